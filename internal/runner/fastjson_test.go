package runner

import (
	"errors"
	"testing"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

var completionBodies = []string{
	`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ANSWER: A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":3,"total_tokens":53}}`,
	` { "choices" : [ { "message" : { "content" : "esc\"aped\n\u00e9\ud83d\ude00" , "role":"assistant", "tool_calls": [{"id": "t", "function": {"arguments": "{}"}}]}, "finish_reason": null, "logprobs": {"content": [1.5e3, -2, true, false, null]} }, {"message": {"content": "second"}} ], "usage": null, "system_fingerprint": "fp" } `,
	`{"choices":[{"message":{"content":null}}],"model":"x","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"choices":[{"message":{"content":[{"type":"text","text":"parts"}]}}]}`,
	`{"choices":[]}`,
	`{"choices":[{"message":{"content":"x"}}],"choices":[{"message":{"content":"y"}}]}`,
	`{"error":{"message":"overloaded"}}`,
	`{"choices":[{"message":{"content":"x"`,
	`{"choices":[{"message":{"content":"x"}}]}trailing`,
	`{"choices":[{"message":{"content":"x"}}],"usage":{"total_tokens":1.5}}`,
	`{"choices":[{"message":{"content":"bad \x01 control"}}]}`,
	`{"choices":[{"finish_reason":"stop"}]}`,
	`[1,2]`,
	``,
	`{"choices":[{"message":{"content":"x"}}],"n":01}`,
}

// TestFastCompletionAgrees checks the scanner against the full decoder:
// whatever the scanner accepts, the decoder reads the same way.
func TestFastCompletionAgrees(t *testing.T) {
	fast := 0
	for _, b := range completionBodies {
		checkFastCompletion(t, []byte(b))
		if _, err := fastCompletion([]byte(b)); err == nil {
			fast++
		}
	}
	if fast != 3 {
		t.Errorf("the scanner read %d of the bodies, want 3", fast)
	}
}

func checkFastCompletion(t *testing.T, b []byte) {
	t.Helper()
	got, err := fastCompletion(b)
	if err != nil {
		if !errors.Is(err, errFallback) {
			t.Errorf("fastCompletion(%q) error %v, want errFallback", b, err)
		}
		return
	}
	want, err := decodeCompletion(b)
	if err != nil {
		t.Errorf("fastCompletion accepted %q, the decoder refuses it: %v", b, err)
		return
	}
	if *got != *want {
		t.Errorf("fastCompletion(%q) = %+v, the decoder reads %+v", b, got, want)
	}
}

func FuzzFastCompletion(f *testing.F) {
	for _, b := range completionBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(checkFastCompletion)
}

func BenchmarkParseCompletion(b *testing.B) {
	body := []byte(runnertest.StubBody)
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			if _, err := fastCompletion(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeCompletion(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
