from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_LEVEL_UNSPECIFIED: _ClassVar[LogLevel]
    DEBUG: _ClassVar[LogLevel]
    INFO: _ClassVar[LogLevel]
    WARNING: _ClassVar[LogLevel]
    ERROR: _ClassVar[LogLevel]
    CRITICAL: _ClassVar[LogLevel]
LOG_LEVEL_UNSPECIFIED: LogLevel
DEBUG: LogLevel
INFO: LogLevel
WARNING: LogLevel
ERROR: LogLevel
CRITICAL: LogLevel

class LogEntry(_message.Message):
    __slots__ = ("timestamp", "level", "subsystem", "module", "function", "message", "extra", "topic", "file", "line", "trace_id", "session_id", "user_id", "error_details", "severity", "origin", "environment", "producer_id", "seq")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SUBSYSTEM_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAILS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    timestamp: str
    level: LogLevel
    subsystem: str
    module: str
    function: str
    message: str
    extra: str
    topic: str
    file: str
    line: int
    trace_id: str
    session_id: str
    user_id: str
    error_details: str
    severity: str
    origin: str
    environment: str
    producer_id: str
    seq: int
    def __init__(self, timestamp: _Optional[str] = ..., level: _Optional[_Union[LogLevel, str]] = ..., subsystem: _Optional[str] = ..., module: _Optional[str] = ..., function: _Optional[str] = ..., message: _Optional[str] = ..., extra: _Optional[str] = ..., topic: _Optional[str] = ..., file: _Optional[str] = ..., line: _Optional[int] = ..., trace_id: _Optional[str] = ..., session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., error_details: _Optional[str] = ..., severity: _Optional[str] = ..., origin: _Optional[str] = ..., environment: _Optional[str] = ..., producer_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("producer_id", "first", "last")
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    producer_id: str
    first: _containers.RepeatedScalarFieldContainer[int]
    last: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, producer_id: _Optional[str] = ..., first: _Optional[_Iterable[int]] = ..., last: _Optional[_Iterable[int]] = ...) -> None: ...
