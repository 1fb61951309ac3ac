// Package runner is scalegate's native evaluation runner: it runs a suite
// (a JSONL dataset and a scorer) against an OpenAI-compatible
// chat-completions endpoint (vLLM, llama.cpp server, Ollama, hosted APIs)
// and scores every sample.
//
// # Suites
//
// A suite is a small strict YAML file (see [LoadSuite] and docs/runner.md)
// naming a JSONL dataset beside it, the prompt, the generation settings and
// one scorer: multiple choice ("choice"), exact match ("exact"), Inspect's
// "match" and "includes", a regular expression ("regex"), or a grader model
// ("model-graded"). The scorers follow the semantics of the Inspect scorers of
// the same names, so a score computed here and one computed by Inspect on the
// same output agree. A suite's digest ([Suite.Digest]) covers the suite file
// and its dataset byte for byte.
//
// # Requests
//
// [Client] posts chat completions with keep-alive connections sized to the
// run's concurrency, a per-attempt timeout, and retries with exponential
// backoff and full jitter on 429, 5xx, timeouts, connection errors and
// malformed responses (honouring Retry-After). 401, 403 and 404 end the run:
// they would fail every sample. Plain-http endpoints use a lean HTTP/1.1
// client, with which, on Linux, [Run] drives the requests of a run with a
// local scorer from one event loop (see loop_linux.go).
//
// # Resume
//
// [Run] appends each sample's outcome to a [State] file (one JSON line per
// sample, written in batches within [BatchInterval] and fsynced within
// [SyncInterval]) so that a re-run after a crash or an interrupt skips every
// recorded sample: no recorded request is ever sent again. On interrupt, Run stops
// dispatching, lets the requests in flight finish (they are recorded), and
// returns.
package runner
