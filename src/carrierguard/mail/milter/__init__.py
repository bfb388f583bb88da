"""The milter: a sans-IO protocol module and the asyncio server that drives it."""
