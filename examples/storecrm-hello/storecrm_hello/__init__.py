"""storecrm-hello: the smallest useful storecrm plugin, installed with pip, no core change.

Enable it for a store (`storecrm plugins enable hello --store SH001`) and every sale there
with a customer leaves "hello saw sale N" on that customer's timeline; the till's answer
carries `effects.hello.greeting`."""

from marshmallow import Schema, fields, validate

from core.plugins import Manifest


class HelloSettings(Schema):
    greeting = fields.String(load_default="你好", validate=validate.Length(min=1, max=40))


manifest = Manifest(
    name="hello",
    version="0.1.0",
    summary="Says hello to every sale",
    summary_zh="在客户时间线上问候每一笔消费",
    hooks="storecrm_hello.hooks",
    settings_schema=HelloSettings,
    package="storecrm_hello",
)
