// Inspecting Python multiprocessing from inside (SPEC §3): the socket server, its wire format, and the launch env.
export { InstrumentServer } from './server';
export type {
  InstrumentServerOptions,
  PythonLogRecord,
  PythonProcessExited,
  PythonProcessStarted,
} from './server';
export { MAX_LINE_BYTES, PROTOCOL_VERSION, parseHello, parseMessage } from './protocol';
export type { Hello, InstrumentEnv, LogRecord, Message, ProcessExited, ProcessStarted, StartMethod } from './protocol';
export { isPythonCommand, pythonEnv, pythonFlagsNote } from './pythonEnv';
export { sanitizeMessage, sanitizeName } from './sanitize';
