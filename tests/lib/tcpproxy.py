#!/usr/bin/env python3
"""A loopback TCP proxy the tests control, to cut connections in the middle of a transfer.

usage: tcpproxy.py TARGET_PORT [RATE_BYTES_PER_S [TAG]]   (TAG: ignored; lets pkill find it)
Prints "listening PORT" once ready. Forwards 127.0.0.1:PORT -> 127.0.0.1:TARGET_PORT, each
direction at most RATE bytes/s per connection (0: unlimited).
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
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
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
