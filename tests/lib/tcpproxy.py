#!/usr/bin/env python3
"""A loopback TCP proxy the tests control, to cut connections in the middle of a transfer.

usage: tcpproxy.py TARGET_PORT [RATE_BYTES_PER_S [TAG]]   (TAG: ignored; lets pkill find it)
Prints "listening PORT" once ready. Forwards 127.0.0.1:PORT -> 127.0.0.1:TARGET_PORT, each
direction at most RATE bytes/s per connection (0: unlimited). With a RATE, the connection to the
target has a small receive buffer: the target's sending is throttled too, not megabytes ahead of
what the client has read (loopback buffers grow to ~10 MB, so a test's "mid-copy" server could
otherwise have finished, on a fast machine).
SIGUSR1 resets every open connection (RST, as a dropped network path would look).
"""
import asyncio
import signal
import socket
import struct
import sys

target = int(sys.argv[1])
rate = int(sys.argv[2]) if len(sys.argv) > 2 else 0
open_writers = set()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            if rate:
                await asyncio.sleep(len(data) / rate)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def handle(client_r, client_w):
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rate:  # before connect: the window scale is agreed then
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target))
        server_r, server_w = await asyncio.open_connection(sock=sock)
    except OSError:
        sock.close()
        client_w.close()
        return
    open_writers.update((client_w, server_w))
    await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))
    open_writers.difference_update((client_w, server_w))


def cut_all():
    for w in list(open_writers):
        sock = w.get_extra_info("socket")
        if sock is not None:
            # linger 0: close sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()
    open_writers.clear()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, cut_all)
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
