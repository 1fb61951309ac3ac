package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/semver"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
)

// PolicyVersion is a stored policy version.
type PolicyVersion struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Developer   string    `json:"developer"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"publishedAt"`
	Document    string    `json:"document"`
	// Index is the record's log index.
	Index int64 `json:"-"`
}

// Published is the outcome of publishing a policy version.
type Published struct {
	Name, Version, Digest string
	PublishedAt           time.Time
	// ForceAt is when the version takes force.
	ForceAt time.Time
	// Index is the log index of the version's record.
	Index int64
	// Unchanged is true when the identical version was already published.
	Unchanged bool
	Warnings  []string
}

// CheckPolicy validates a policy document without recording it.
func CheckPolicy(file string, data []byte) (*policy.Policy, error) {
	p, err := policy.Parse(file, data)
	if err != nil {
		return nil, badInput(err)
	}
	return p, nil
}

// PublishPolicy validates a policy document and records it as published at
// `at` (now when zero). Re-publishing an identical version is a no-op; a
// different document under an existing name and version, or a version lower
// than one already published, is bad input.
func (s *Service) PublishPolicy(ctx context.Context, file string, data []byte, at time.Time, by string) (*Published, error) {
	p, err := CheckPolicy(file, data)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = s.Now()
	}
	at = at.UTC()
	name, version := p.Metadata.Name, p.Metadata.Version
	out := &Published{Name: name, Version: version, Digest: p.Digest, Warnings: p.Warnings}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		versions, pvs, err := s.versions(ctx, tx, name)
		if err != nil {
			return err
		}
		for _, pv := range pvs {
			if pv.Version != version {
				continue
			}
			if pv.Digest == p.Digest {
				out.Unchanged, out.Index, out.PublishedAt = true, pv.Index, pv.PublishedAt
				_, out.ForceAt = forceTime(versions, version)
				return nil
			}
			return badInput(p.Doc.Errorf("metadata.version", "policy %s version %s is already published with a different document (%s); publish a new version instead", name, version, pv.Digest))
		}
		for _, pv := range pvs {
			if semver.Compare("v"+pv.Version, "v"+version) > 0 {
				return badInput(p.Doc.Errorf("metadata.version", "%s is lower than the published version %s of %s; versions are published in order", version, pv.Version, name))
			}
			if at.Before(pv.PublishedAt) {
				return badInput(fmt.Errorf("%s: --at: publication time %s is before the publication of %s %s (%s)", file, at.Format(time.RFC3339), name, pv.Version, pv.PublishedAt.Format(time.RFC3339)))
			}
		}
		pv := PolicyVersion{Name: name, Version: version, Developer: p.Metadata.Developer, Digest: p.Digest, PublishedAt: at, Document: string(data)}
		rec, err := newRecord(store.KindPolicy, name+"@"+version, "", name, by, at, pv, nil)
		if err != nil {
			return err
		}
		idx, err := tx.Append(ctx, []store.Record{rec})
		if err != nil {
			return err
		}
		out.Index, out.PublishedAt = idx, at
		versions = append(versions, gate.Version{Policy: p, PublishedAt: at})
		_, out.ForceAt = forceTime(versions, version)
		return s.signCheckpoint(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forceTime returns when a version takes force, given all versions.
func forceTime(versions []gate.Version, version string) (bool, time.Time) {
	var pub time.Time
	for _, v := range versions {
		if v.Policy.Metadata.Version == version {
			pub = v.PublishedAt
		}
	}
	// The force time is the earliest moment at which InForce picks the
	// version or a newer one; compute it by probing candidate instants.
	// Candidates are publication times plus scrutiny periods.
	var candidates []time.Time
	for _, v := range versions {
		candidates = append(candidates, v.PublishedAt)
		for _, w := range versions {
			candidates = append(candidates, v.PublishedAt.Add(time.Duration(w.Policy.Governance.ScrutinyPeriod)))
		}
	}
	best := time.Time{}
	for _, c := range candidates {
		if c.Before(pub) {
			continue
		}
		cur, _ := gate.InForce(versions, c)
		if cur != nil && semver.Compare("v"+cur.Policy.Metadata.Version, "v"+version) >= 0 {
			if best.IsZero() || c.Before(best) {
				best = c
			}
		}
	}
	return !best.IsZero(), best
}

// Policies lists the published versions of a policy.
func (s *Service) Policies(ctx context.Context, name string) ([]PolicyVersion, error) {
	var out []PolicyVersion
	err := s.Store.View(ctx, func(r store.Reader) error {
		_, pvs, err := s.versions(ctx, r, name)
		out = pvs
		return err
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("policy %q: %w", name, store.ErrNotFound)
	}
	return out, err
}

// IsNotFound reports whether err means a record does not exist.
func IsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
