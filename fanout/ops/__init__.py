"""Operations on a running fanout: status, DLQ peek and redrive, channel pause and resume.

The logic lives in small modules that take boto3 clients and return dataclasses, so tests and other tools
can call them directly; `cli.py` is the thin typer layer over them. Never imported by Lambda code.
"""
