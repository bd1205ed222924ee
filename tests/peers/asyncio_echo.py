# asyncio_echo.py PORT - an echo server on Python's asyncio streams, as the asyncio
# documentation's echo examples write it: read what comes, write it back, drain, and
# close after the client's EOF. A peer for `echoconf diagnose` (tests/peers).
import asyncio, sys

async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()

async def main(port):
    server = await asyncio.start_server(echo, "127.0.0.1", port)
    async with server:
        await server.serve_forever()

try:
    asyncio.run(main(int(sys.argv[1])))
except KeyboardInterrupt:  # echoconf stops its servers with SIGINT
    pass
