"""The HTTP service: a FastAPI app with durable jobs, solves in spawned processes.

Build the app with :func:`optimizer.service.app.create_app` and run it with
``iop-roster serve``; see ``docs/service.md``.
"""
