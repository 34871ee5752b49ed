"""The frontend bridge: web and app frontends send JSON logs over HTTP or a WebSocket.

    app.py        the FastAPI application: CORS, the one error handler, the routes
    routes.py     POST /api/v1/logs, /api/v1/logs/batch, /api/v1/logs/beacon, /log
    websocket.py  WS /api/v1/logs/ws: batches with ids, acknowledged once durable on the spool
    intake.py     record-by-record judgement and the hand-over to the producer
    limits.py     body size, gzip, batch shape and size
    auth.py       the bearer token ($AICO_HOME/keys/bridge.token)
    models.py     the request and response shapes of the OpenAPI schema
    process.py    the bridge's own process: uvicorn and one relaying producer, apart from the collector
    plugin.py     plugin ``log_bridge``: runs that process, reports its status, stops it
"""
