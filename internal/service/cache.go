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
	// from is the smallest log size holding all of ev (one past its
	// newest record): the evidence as of any size in [from, next] is ev.
	from int64
	ev   gate.Evidence
}

// maxCachedModels bounds the cache; past it, the cache starts afresh.
const maxCachedModels = 1024

// inputsAt returns the versions of the model's policy and the model's
// evidence in the reader's snapshot, whose log size is size, and an
// evidence snapshot worth storing (or nil). Where both are cached, the
// records since (usually none) are asked for in one round trip.
func (s *Service) inputsAt(ctx context.Context, r store.Reader, m evidence.Model, size int64) ([]gate.Version, gate.Evidence, []byte, error) {
	s.verCache.mu.Lock()
	vc := s.verCache.m[m.Policy]
	s.verCache.mu.Unlock()
	s.evCache.mu.Lock()
	ec := s.evCache.m[m.ID]
	s.evCache.mu.Unlock()

	var qs []store.Query
	vi, ei := -1, -1
	if vc != nil && vc.next <= size {
		vi = len(qs)
		qs = append(qs, store.Query{Kinds: []string{store.KindPolicy}, Policy: m.Policy, From: vc.next, NoData: true, Limit: 1})
	}
	evCached := ec != nil && ec.from <= size && size <= ec.next
	if ec != nil && !evCached && ec.next < size {
		ei = len(qs)
		qs = append(qs, store.Query{Kinds: evidenceKinds, Model: m.ID, DataOnly: true, From: ec.next})
	}
	tails, err := r.ListMany(ctx, qs)
	if err != nil {
		return nil, gate.Evidence{}, nil, err
	}

	var versions []gate.Version
	if vi >= 0 && len(tails[vi]) == 0 {
		versions = vc.versions
	} else if versions, err = s.readVersions(ctx, r, m.Policy, size); err != nil {
		return nil, gate.Evidence{}, nil, err
	}

	var ev gate.Evidence
	var snap []byte
	switch {
	case evCached:
		ev = ec.ev
		ev.Model = m
	case ei >= 0:
		more, err := decodeEvidence(m, tails[ei])
		if err != nil {
			return nil, gate.Evidence{}, nil, err
		}
		// Copy on extend: the cached slices may be read concurrently.
		ev = joinEvidence(m, ec.ev, more)
		s.remember(m.ID, size, max(ec.from, newestSeq(more)+1), ev)
	default:
		if ev, snap, err = s.evidenceFromSnapshot(ctx, r, m, size); err != nil {
			return nil, gate.Evidence{}, nil, err
		}
		s.remember(m.ID, size, newestSeq(ev)+1, ev)
	}
	return versions, ev, snap, nil
}

// remember caches ev as the model's evidence as of log sizes from
// through size.
func (s *Service) remember(model string, size, from int64, ev gate.Evidence) {
	s.evCache.mu.Lock()
	defer s.evCache.mu.Unlock()
	if s.evCache.m == nil || len(s.evCache.m) >= maxCachedModels {
		s.evCache.m = map[string]*cachedEvidence{}
	}
	if old := s.evCache.m[model]; old == nil || old.next < size {
		s.evCache.m[model] = &cachedEvidence{next: size, from: from, ev: ev}
	}
}

// modelCache keeps models with the log index of their records. A model is
// immutable once recorded (an import that declares it differently is
// refused), so a model found once is the model in every snapshot that
// holds its record.
type modelCache struct {
	mu sync.Mutex
	m  map[string]cachedModel
}

type cachedModel struct {
	m     evidence.Model
	index int64
}

// modelAt returns the model in the reader's snapshot, whose log size is
// size.
func (s *Service) modelAt(ctx context.Context, r store.Reader, id string, size int64) (evidence.Model, error) {
	s.modCache.mu.Lock()
	c, ok := s.modCache.m[id]
	s.modCache.mu.Unlock()
	if ok && c.index < size {
		return c.m, nil
	}
	m, idx, err := getModelIndex(ctx, r, id)
	if err != nil {
		return m, err
	}
	s.modCache.mu.Lock()
	defer s.modCache.mu.Unlock()
	if s.modCache.m == nil || len(s.modCache.m) >= maxCachedModels {
		s.modCache.m = map[string]cachedModel{}
	}
	if old, ok := s.modCache.m[id]; !ok || idx < old.index {
		s.modCache.m[id] = cachedModel{m, idx}
	}
	return m, nil
}

// versionsCache keeps each policy's versions with the log size they were
// read at; like the evidence cache it is extended, never invalidated: a
// policy's versions as of a larger size are the cached ones unless a
// version was published since.
type versionsCache struct {
	mu sync.Mutex
	m  map[string]*cachedVersions
}

type cachedVersions struct {
	next     int64
	versions []gate.Version
}

// readVersions reads the versions of a policy in the reader's snapshot,
// whose log size is size, and caches them.
func (s *Service) readVersions(ctx context.Context, r store.Reader, name string, size int64) ([]gate.Version, error) {
	versions, _, err := s.versions(ctx, r, name)
	if err != nil {
		return nil, err
	}
	s.verCache.mu.Lock()
	defer s.verCache.mu.Unlock()
	if s.verCache.m == nil || len(s.verCache.m) >= maxCachedModels {
		s.verCache.m = map[string]*cachedVersions{}
	}
	if old := s.verCache.m[name]; old == nil || old.next < size {
		s.verCache.m[name] = &cachedVersions{next: size, versions: versions}
	}
	return versions, nil
}

// newestSeq returns the log index of the newest record in ev, or -1.
func newestSeq(ev gate.Evidence) int64 {
	n := int64(-1)
	for _, x := range ev.Checkpoints {
		n = max(n, x.Seq)
	}
	for _, x := range ev.Results {
		n = max(n, x.Seq)
	}
	for _, x := range ev.Safeguards {
		n = max(n, x.Seq)
	}
	for _, x := range ev.Determinations {
		n = max(n, x.Seq)
	}
	for _, x := range ev.SafetyCases {
		n = max(n, x.Seq)
	}
	for _, x := range ev.Escapes {
		n = max(n, x.Seq)
	}
	return n
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
