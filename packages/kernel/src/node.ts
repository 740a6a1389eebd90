/**
 * Node-only parts of `@honk/kernel`: honk's HTTP server as Node's own `http.Server`, fed the
 * kernel stack's TCP connections (`@honk/net/node`'s `TcpDuplex`, a `net.Socket` look-alike),
 * and the hart threads (`worker_threads`) the kernel's CPU work runs on.
 * @packageDocumentation
 */
import { createServer } from 'node:http'
import type { HartThreadFactory } from '@honk/proc'
import { nodeHartThreads } from '@honk/proc/node'
import { TcpDuplex } from '@honk/net/node'
import type { HttpService } from './network.js'

/** {@link HttpService} on Node: `http.Server` over `@honk/net` sockets (`server.emit('connection', socket)`). */
export const nodeHttpService: HttpService = {
  async serve(stack, port, handler) {
    const server = createServer((req, res) => {
      const method = req.method ?? 'GET'
      handler({ method, path: req.url ?? '/' }).then(
        (reply) => {
          const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength)
          res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': body.length })
          res.end(method === 'HEAD' ? undefined : body)
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          res.end(`internal error: ${e instanceof Error ? e.message : String(e)}\n`)
        },
      )
    })
    // A client that vanishes mid-response is the socket's error, not the kernel's.
    server.on('clientError', (_e, socket) => socket.destroy())
    const listener = stack.listen(port)
    const sockets = new Set<TcpDuplex>()
    listener.onConnection = (sock) => {
      const duplex = new TcpDuplex(sock)
      sockets.add(duplex)
      duplex.on('close', () => sockets.delete(duplex))
      server.emit('connection', duplex)
    }
    return {
      async close() {
        listener.close()
        for (const s of sockets) s.destroy()
        server.close()
      },
    }
  },
}

/**
 * The threads of honk's secondary harts on Node: one `worker_threads` Worker per hart, serving
 * the kernel's hart tasks (`KernelOptions.threads`).
 */
export function nodeKernelThreads(): HartThreadFactory {
  const here = import.meta.url
  return nodeHartThreads(here.endsWith('.ts') ? new URL('./hart-worker-node.ts', here) : new URL('./hart-worker.js', here))
}
