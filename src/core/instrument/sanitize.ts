// Text from the Python helper is untrusted: these strip what could spoof or garble a tree label or a log line.

/* eslint-disable no-control-regex -- matching control characters is the point of this file */
// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), other two-byte ESC sequences, and 8-bit CSI.
const ANSI_ESCAPE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]/g;
const LINE_BREAK = /\r\n|[\r\n\u2028\u2029]/g;
const CONTROL_EXCEPT_TAB = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
// Invisible direction and width controls: they reorder or hide what a reader sees.
const FORMAT_CONTROL = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// The common case, printable ASCII (tab allowed), needs none of the above.
const NOT_PLAIN = /[^\t\x20-\x7e]/;
/* eslint-enable no-control-regex */

export const MAX_NAME_LENGTH = 256;

/** A process name fit for a tree label: one line, no escapes or control or direction characters, at most 256 chars. */
export function sanitizeName(text: string, maxLength = MAX_NAME_LENGTH): string {
  const clean = (NOT_PLAIN.test(text) ? text.replace(ANSI_ESCAPE, '').replace(FORMAT_CONTROL, '').replace(LONE_SURROGATE, '\ufffd') : text)
    .replace(CONTROL, '')
    .trim();
  return clean.length <= maxLength ? clean : `${clean.slice(0, maxLength - 1)}\u2026`;
}

/** A log message kept as text on one line: escapes dropped, line breaks become spaces, other controls but tab removed. */
export function sanitizeMessage(text: string): string {
  if (!NOT_PLAIN.test(text)) return text;
  return text
    .replace(ANSI_ESCAPE, '')
    .replace(LINE_BREAK, ' ')
    .replace(CONTROL_EXCEPT_TAB, '')
    .replace(FORMAT_CONTROL, '')
    .replace(LONE_SURROGATE, '\ufffd');
}
