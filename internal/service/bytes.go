package service

import (
	"context"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
)

// ImportBytes imports one document given as bytes, as the HTTP API
// receives it: an Evidence document (YAML, or JSON, which is YAML) or a
// DSSE envelope carrying one signed record. name labels the document in
// error messages (file:line:col). Records without `at` get at (now when
// zero). The import is all-or-nothing, exactly as ImportFiles: one bad
// record and nothing is written.
func (s *Service) ImportBytes(ctx context.Context, name string, data []byte, at time.Time, by string) (*Imported, error) {
	if int64(len(data)) > evidence.MaxFileSize {
		return nil, badInputf("%s: document is %d bytes; the limit is %d", name, len(data), evidence.MaxFileSize)
	}
	if at.IsZero() {
		at = s.Now()
	}
	var f *evidence.File
	var err error
	if IsEnvelope(data) {
		f, err = envelopeFile(name, data)
	} else {
		f, err = evidence.Parse(name, data, at)
	}
	if err != nil {
		return nil, badInput(err)
	}
	return s.Import(ctx, []*evidence.File{f}, by)
}
