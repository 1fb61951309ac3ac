// Package evallog reads evaluation logs written by evaluation harnesses,
// byte for byte as the harnesses wrote them, into harness-neutral results
// (Log, Task, Metric) that scalegate's gates are evaluated against. It owns
// format detection, the streaming SHA-256 of the raw file (the digest the
// rest of scalegate records as evidence), the resource limits that keep a
// hostile file from exhausting memory or time, and the completeness check
// (Log.Complete). It does not interpret metrics or decide gates.
//
// Accepted formats, detected from the content and never from the file
// extension:
//
//   - Inspect .eval (UK AISI inspect_ai, default since 0.3.46): a zip
//     archive (first bytes "PK\x03\x04", or "PK\x05\x06" for an empty one).
//     Entries may be stored (method 0), deflated (8) or Zstandard-compressed
//     (93, Inspect's default since 0.3.206). Only header.json is
//     decompressed, bounded by Limits.MaxEntryBytes; sample entries are
//     never opened. When an entry name repeats, the last entry wins, as in
//     Inspect. An archive without header.json but with _journal/start.json
//     is a run that has not finished (still running or crashed): its status
//     is "started" and it has no results.
//   - Inspect .json: a JSON object with "eval" and "results" or "status",
//     log versions 1 and 2, in the old layout (metric "options",
//     results.sample_reductions, version 1's results.scorer/metrics) and
//     the new one (metric "params", top-level "reductions").
//   - lm-evaluation-harness results (results_<date>.json, EleutherAI
//     lm-eval 0.4 and later, and the legacy {"results", "versions"} form): a
//     JSON object with a "results" object and one of "versions", "configs",
//     "n-shot" or "config". Metric keys are "<metric>,<filter>", split on
//     the last comma; "<metric>_stderr,<filter>" may be the string "N/A";
//     "versions" values may be strings or numbers; sample counts come from
//     "n-samples" ({task: {original, effective}}) and, for groups, from
//     their subtasks or "sample_count".
//
// JSON is read by a streaming tokenizer that keeps one 256 KiB buffer, so a
// multi-gigabyte "samples" array is validated and skipped without being
// held in memory, and nesting depth is enforced while walking
// (Limits.MaxDepth). The tokenizer accepts the NaN, Infinity and -Infinity
// literals that Python's json module and pydantic write (Inspect logs
// contain them), so such values inside sample data do not make a log
// unreadable; a metric or stderr value that is NaN, infinite, or not a
// number is an error. Any other malformed JSON anywhere in the file is an
// error.
//
// Every error is a single line that starts with the file name, for example
// "log.eval: header.json: unexpected EOF", wraps the underlying error, and
// matches one of ErrUnknownFormat, ErrLimit, ErrSyntax, ErrInvalid,
// ErrNotFound or ErrIncomplete with errors.Is where one applies.
package evallog
