package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"scalegate.dev/scalegate/internal/store"
)

// Roles of API tokens. A role grants what it names and nothing else,
// except admin, which grants everything.
const (
	// RoleLab records evidence and asks the gate.
	RoleLab = "lab"
	// RoleAuditor sees the trusted view (confidential values) and records
	// signed attestations.
	RoleAuditor = "auditor"
	// RoleAdmin publishes policies and manages tokens.
	RoleAdmin = "admin"
)

// Roles lists the roles in order of privilege.
var Roles = []string{RoleLab, RoleAuditor, RoleAdmin}

// ErrUnauthorized is returned by Authenticate for an unknown or revoked
// token.
var ErrUnauthorized = errors.New("unknown or revoked token")

// TokenPrefix starts every token, so that leaked tokens are easy to find.
const TokenPrefix = "sgt_"

// Token describes an API token. The token itself is never stored: only
// the SHA-256 of it, as the key under which this description is kept.
type Token struct {
	Name    string     `json:"name"`
	Role    string     `json:"role"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Meta keys: tokenKeyPrefix+<hex sha256 of the token> holds a Token as
// JSON; tokensIndexKey holds a JSON object mapping names to those hashes.
const (
	tokenKeyPrefix = "token:"
	tokensIndexKey = "tokens"
)

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func tokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates a token for name with role and returns it with its
// description. The token is returned only here: the store keeps its
// SHA-256. Names are unique, including those of revoked tokens, since
// records stay attributed to them.
func (s *Service) CreateToken(ctx context.Context, name, role string) (string, *Token, error) {
	if !tokenName.MatchString(name) {
		return "", nil, badInputf("token name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	if !validRole(role) {
		return "", nil, badInputf("role %q: must be one of %s", role, strings.Join(Roles, ", "))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("token: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &Token{Name: name, Role: role, Created: s.Now().UTC().Truncate(time.Second)}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		idx, err := readTokenIndex(ctx, tx)
		if err != nil {
			return err
		}
		if _, ok := idx[name]; ok {
			return badInputf("a token named %q already exists; token names are never reused", name)
		}
		h := tokenHash(secret)
		idx[name] = h
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if err := tx.SetMeta(ctx, tokenKeyPrefix+h, string(b)); err != nil {
			return err
		}
		return writeTokenIndex(ctx, tx, idx)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Authenticate returns the description of a valid token, or an error
// wrapping ErrUnauthorized. A token checked against the store is trusted
// for tokenCacheTTL without asking it again (every API request presents
// one); RevokeToken empties that cache, so a token revoked through this
// service stops at once, and one revoked by another process on the same
// store stops within tokenCacheTTL.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrUnauthorized
	}
	h := tokenHash(secret)
	if t, ok := s.tokCache.get(h); ok {
		return &t, nil
	}
	gen := s.tokCache.generation()
	var t Token
	err := s.Store.View(ctx, func(r store.Reader) error {
		v, err := r.Meta(ctx, tokenKeyPrefix+h)
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(v), &t)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if t.Revoked != nil {
		return nil, ErrUnauthorized
	}
	s.tokCache.put(h, t, gen)
	return &t, nil
}

// tokenCacheTTL bounds how long Authenticate trusts a token without
// reading it again.
const tokenCacheTTL = time.Second

// tokenCache holds recently checked tokens by hash. Its clock is the
// machine's monotonic one, not Service.Now (which tests and time travel
// replace).
type tokenCache struct {
	mu  sync.Mutex
	m   map[string]cachedToken
	gen uint64 // bumped by clear; a read that began before is not cached
}

type cachedToken struct {
	t     Token
	until time.Time
}

func (c *tokenCache) get(h string) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.m[h]
	if !ok || time.Now().After(x.until) {
		return Token{}, false
	}
	return x.t, true
}

func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *tokenCache) put(h string, t Token, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // a revocation happened while t was read
	}
	if c.m == nil || len(c.m) >= 1024 {
		c.m = map[string]cachedToken{}
	}
	c.m[h] = cachedToken{t, time.Now().Add(tokenCacheTTL)}
}

func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.gen++
}

// Tokens lists every token's description (never the tokens), by name.
func (s *Service) Tokens(ctx context.Context) ([]Token, error) {
	var out []Token
	err := s.Store.View(ctx, func(r store.Reader) error {
		idx, err := readTokenIndex(ctx, r)
		if err != nil {
			return err
		}
		for _, h := range idx {
			v, err := r.Meta(ctx, tokenKeyPrefix+h)
			if err != nil {
				return err
			}
			var t Token
			if err := json.Unmarshal([]byte(v), &t); err != nil {
				return fmt.Errorf("token record: %w", err)
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeToken revokes the token called name; it stops authenticating at
// once. Revoking a revoked token is a no-op.
func (s *Service) RevokeToken(ctx context.Context, name string) (*Token, error) {
	var t Token
	defer s.tokCache.clear()
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		idx, err := readTokenIndex(ctx, tx)
		if err != nil {
			return err
		}
		h, ok := idx[name]
		if !ok {
			return fmt.Errorf("token %q: %w", name, store.ErrNotFound)
		}
		v, err := tx.Meta(ctx, tokenKeyPrefix+h)
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(v), &t); err != nil {
			return fmt.Errorf("token record: %w", err)
		}
		if t.Revoked != nil {
			return nil
		}
		now := s.Now().UTC().Truncate(time.Second)
		t.Revoked = &now
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		return tx.SetMeta(ctx, tokenKeyPrefix+h, string(b))
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func validRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

func readTokenIndex(ctx context.Context, r store.Reader) (map[string]string, error) {
	idx := map[string]string{}
	v, err := r.Meta(ctx, tokensIndexKey)
	if errors.Is(err, store.ErrNotFound) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(v), &idx); err != nil {
		return nil, fmt.Errorf("token index: %w", err)
	}
	return idx, nil
}

func writeTokenIndex(ctx context.Context, tx store.Tx, idx map[string]string) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return tx.SetMeta(ctx, tokensIndexKey, string(b))
}
