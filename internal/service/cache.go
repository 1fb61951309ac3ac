package service

import (
	"context"
	"sync"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

// evidenceCache keeps each model's decoded evidence with the log size it
// was read at. The log is append-only, so the evidence of a model as of a
// larger log size is the cached evidence plus the model's records from the
// cached size on: a cache entry is extended, never invalidated, and a
// long-running server reads only what is new.
type evidenceCache struct {
	mu sync.Mutex
	m  map[string]*cachedEvidence
}

type cachedEvidence struct {
	next int64 // the log size the evidence was read at
	ev   gate.Evidence
}

// maxCachedModels bounds the cache; past it, the cache starts afresh.
const maxCachedModels = 1024

// evidenceAt returns the model's evidence in the reader's snapshot, whose
// log size is size, and an evidence snapshot worth storing (or nil).
func (s *Service) evidenceAt(ctx context.Context, r store.Reader, m evidence.Model, size int64) (gate.Evidence, []byte, error) {
	s.evCache.mu.Lock()
	c := s.evCache.m[m.ID]
	s.evCache.mu.Unlock()
	if c == nil || c.next > size {
		ev, snap, err := s.evidenceFromSnapshot(ctx, r, m, size)
		if err == nil {
			s.remember(m.ID, size, ev)
		}
		return ev, snap, err
	}
	if c.next == size {
		return c.ev, nil, nil
	}
	more, err := loadEvidence(ctx, r, m, c.next)
	if err != nil {
		return gate.Evidence{}, nil, err
	}
	// Copy on extend: the cached slices may be read concurrently.
	ev := joinEvidence(m, c.ev, more)
	s.remember(m.ID, size, ev)
	return ev, nil, nil
}

func (s *Service) remember(model string, size int64, ev gate.Evidence) {
	s.evCache.mu.Lock()
	defer s.evCache.mu.Unlock()
	if s.evCache.m == nil || len(s.evCache.m) >= maxCachedModels {
		s.evCache.m = map[string]*cachedEvidence{}
	}
	if old := s.evCache.m[model]; old == nil || old.next < size {
		s.evCache.m[model] = &cachedEvidence{next: size, ev: ev}
	}
}

// joinEvidence returns a's records followed by b's, copying rather than
// appending in place (a may be shared).
func joinEvidence(m evidence.Model, a, b gate.Evidence) gate.Evidence {
	return gate.Evidence{
		Model:          m,
		Checkpoints:    concat(a.Checkpoints, b.Checkpoints),
		Results:        concat(a.Results, b.Results),
		Safeguards:     concat(a.Safeguards, b.Safeguards),
		Determinations: concat(a.Determinations, b.Determinations),
		SafetyCases:    concat(a.SafetyCases, b.SafetyCases),
		Escapes:        concat(a.Escapes, b.Escapes),
	}
}

func concat[T any](a, b []T) []T {
	if len(b) == 0 {
		return a
	}
	out := make([]T, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}
