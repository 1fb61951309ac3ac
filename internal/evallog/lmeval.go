package evallog

import (
	"math"
	"strings"
	"time"
)

// lmTask is one entry of lm-eval "results" or "groups".
type lmTask struct {
	name        string
	metrics     []Metric
	sampleLen   int // "sample_len", -1 if absent
	sampleCount int // largest "sample_count" value (groups), -1 if absent
}

// lmFixedKeys are the non-metric keys of an lm-eval task entry.
var lmFixedKeys = map[string]bool{"alias": true, "name": true, "sample_len": true, "sample_count": true, "samples": true}

// buildLMEval interprets the kept members of an lm-eval results file.
//
// Model is "<config.model>/<name>", where config.model is the lm-eval
// backend ("hf", "vllm", "openai-completions", ...) and name is the
// top-level "model_name" if set, else model_args "pretrained", else
// model_args "model" (model_args may be a dict or a "k=v,k=v" string);
// either part is left out when absent. This mirrors Inspect's
// "<provider>/<model>" naming, e.g. "vllm/google/gemma-2b".
func buildLMEval(top *topLevel) (*Log, error) {
	log := &Log{Format: FormatLMEval, Status: StatusSuccess, Metadata: map[string]string{}}

	versions := map[string]string{}
	if sec, ok := top.sections["versions"]; ok {
		s := top.scan(sec)
		if null, err := s.isNull(); err != nil {
			return nil, err
		} else if !null {
			err := s.object(func(task string) error {
				v, err := s.version(child("versions", task))
				versions[task] = v
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}

	type counts struct{ effective, original int }
	nSamples := map[string]counts{}
	if sec, ok := top.sections["n-samples"]; ok {
		s := top.scan(sec)
		if null, err := s.isNull(); err != nil {
			return nil, err
		} else if !null {
			err := s.object(func(task string) error {
				p := child("n-samples", task)
				c := counts{-1, -1}
				err := s.object(func(k string) error {
					var err error
					switch k {
					case "effective":
						c.effective, err = s.count(child(p, k))
					case "original":
						c.original, err = s.count(child(p, k))
					default:
						err = s.skip()
					}
					return err
				})
				nSamples[task] = c
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}

	subtasks := map[string][]string{}
	if sec, ok := top.sections["group_subtasks"]; ok {
		s := top.scan(sec)
		if null, err := s.isNull(); err != nil {
			return nil, err
		} else if !null {
			err := s.object(func(group string) error {
				p := child("group_subtasks", group)
				var subs []string
				if null, err := s.isNull(); null || err != nil {
					return err
				}
				err := s.array(func(i int) error {
					name, err := s.str(elem(p, i))
					subs = append(subs, name)
					return err
				})
				subtasks[group] = subs
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}

	var backend, argsName string
	if sec, ok := top.sections["config"]; ok {
		s := top.scan(sec)
		if null, err := s.isNull(); err != nil {
			return nil, err
		} else if !null {
			err := s.object(func(k string) error {
				var err error
				switch k {
				case "model":
					backend, err = s.optStr("config.model")
				case "model_args":
					argsName, err = lmModelArgs(s)
				default:
					err = s.skip()
				}
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}
	name := argsName
	if sec, ok := top.sections["model_name"]; ok {
		n, err := top.scan(sec).optStr("model_name")
		if err != nil {
			return nil, err
		}
		if n != "" {
			name = n
		}
	}
	log.Model = joinNonEmpty(backend, name)

	if sec, ok := top.sections["lm_eval_version"]; ok {
		v, err := top.scan(sec).optStr("lm_eval_version")
		if err != nil {
			return nil, err
		}
		log.HarnessVersion = v
	}
	if sec, ok := top.sections["date"]; ok {
		v, err := top.scan(sec).value()
		if err != nil {
			return nil, err
		}
		switch v.kind {
		case kindNumber:
			f, err := finiteOf("date", v)
			if err != nil {
				return nil, err
			}
			if f < 0 || f > 1e11 {
				return nil, invalidf("date: %s is not a plausible unix time", v.text)
			}
			log.Created = time.UnixMicro(int64(math.Round(f * 1e6))).UTC().Format("2006-01-02T15:04:05.999999Z07:00")
		case kindString:
			log.Created = v.text
		case kindNull:
		default:
			return nil, typeErr("date", "a number", v.kind)
		}
	}

	// Tasks: "results" in file order, then "groups" entries not already
	// listed. A repeated key keeps its first position and its last value.
	var order []string
	tasks := map[string]*lmTask{}
	add := func(t *lmTask, replace bool) {
		if _, ok := tasks[t.name]; !ok {
			order = append(order, t.name)
		} else if !replace {
			return
		}
		tasks[t.name] = t
	}
	for _, m := range top.results {
		t, err := lmTaskAt(top.scan(m.section), m.key, child("results", m.key))
		if err != nil {
			return nil, err
		}
		add(t, true)
	}
	if sec, ok := top.sections["groups"]; ok {
		s := top.scan(sec)
		if null, err := s.isNull(); err != nil {
			return nil, err
		} else if !null {
			inResults := map[string]bool{}
			for _, m := range top.results {
				inResults[m.key] = true
			}
			err := s.object(func(group string) error {
				t, err := lmTaskAt(s, group, child("groups", group))
				if err == nil && !inResults[group] {
					add(t, true)
				}
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}

	// Sample counts: n-samples for tasks; for groups the sum over their
	// subtasks, else sample_len, else the largest sample_count.
	visiting := map[string]bool{}
	var countOf func(name string) counts
	countOf = func(name string) counts {
		if c, ok := nSamples[name]; ok {
			return c
		}
		if visiting[name] {
			return counts{-1, -1}
		}
		visiting[name] = true
		defer delete(visiting, name)
		if subs := subtasks[name]; len(subs) > 0 {
			sum := counts{0, 0}
			for _, sub := range subs {
				c := countOf(sub)
				if c.effective < 0 {
					sum.effective = -1
					break
				}
				sum.effective += c.effective
				if c.original < 0 || sum.original < 0 {
					sum.original = -1
				} else {
					sum.original += c.original
				}
			}
			if sum.effective >= 0 {
				return sum
			}
		}
		if t := tasks[name]; t != nil {
			if t.sampleLen >= 0 {
				return counts{t.sampleLen, -1}
			}
			if t.sampleCount >= 0 {
				return counts{t.sampleCount, -1}
			}
		}
		return counts{-1, -1}
	}
	for _, n := range order {
		t := tasks[n]
		c := countOf(n)
		log.Tasks = append(log.Tasks, Task{
			Name:             n,
			Version:          versions[n],
			TotalSamples:     c.effective,
			CompletedSamples: c.effective,
			Samples:          c.effective,
			DatasetSamples:   c.original,
			Metrics:          t.metrics,
		})
	}
	return log, nil
}

// lmTaskAt reads one task entry: "<metric>,<filter>" keys (split on the
// last comma; legacy keys have no comma and an empty filter) with numeric
// values, and "<metric>_stderr,<filter>" keys whose value is a number or
// "N/A" (or null), attached to the metric as Stderr. Keys without a comma
// and with a non-numeric value are descriptive and ignored.
func lmTaskAt(s *scanner, name, path string) (*lmTask, error) {
	t := &lmTask{name: name, sampleLen: -1, sampleCount: -1}
	type key struct{ metric, filter string }
	index := map[key]int{}
	type stderrEntry struct {
		key   key
		value *float64
	}
	var stderrs []stderrEntry
	err := s.object(func(k string) error {
		p := child(path, k)
		if lmFixedKeys[k] {
			switch k {
			case "sample_len":
				n, err := s.count(p)
				t.sampleLen = n
				return err
			case "sample_count":
				if null, err := s.isNull(); null || err != nil {
					return err
				}
				return s.object(func(m string) error {
					n, err := s.count(child(p, m))
					t.sampleCount = max(t.sampleCount, n)
					return err
				})
			}
			return s.skip()
		}
		comma := strings.LastIndexByte(k, ',')
		v, err := s.value()
		if err != nil {
			return err
		}
		if v.kind == kindObject || v.kind == kindArray {
			if comma < 0 {
				return s.skip()
			}
			return typeErr(p, "a number", v.kind)
		}
		if comma < 0 && v.kind != kindNumber {
			return nil
		}
		mk := key{k, ""}
		if comma >= 0 {
			mk = key{k[:comma], k[comma+1:]}
		}
		if base, ok := strings.CutSuffix(mk.metric, "_stderr"); ok && base != "" {
			e := stderrEntry{key: key{base, mk.filter}}
			if !(v.kind == kindNull || (v.kind == kindString && v.text == "N/A")) {
				f, err := finiteOf(p, v)
				if err != nil {
					return err
				}
				e.value = &f
			}
			stderrs = append(stderrs, e)
			return nil
		}
		f, err := finiteOf(p, v)
		if err != nil {
			return err
		}
		m := Metric{Name: mk.metric, Filter: mk.filter, Value: f}
		if i, ok := index[mk]; ok {
			t.metrics[i] = m
		} else {
			index[mk] = len(t.metrics)
			t.metrics = append(t.metrics, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range stderrs {
		if i, ok := index[e.key]; ok {
			t.metrics[i].Stderr = e.value
		} else if e.value != nil {
			// A stderr without its metric is kept under its own name.
			t.metrics = append(t.metrics, Metric{Name: e.key.metric + "_stderr", Filter: e.key.filter, Value: *e.value})
		}
	}
	return t, nil
}

// lmModelArgs returns the model name from config.model_args, given as an
// object or as a "k=v,k=v" string: "pretrained", else "model".
func lmModelArgs(s *scanner) (string, error) {
	v, err := s.value()
	if err != nil {
		return "", err
	}
	args := map[string]string{}
	switch v.kind {
	case kindNull:
		return "", nil
	case kindString:
		for _, kv := range strings.Split(v.text, ",") {
			if k, val, ok := strings.Cut(kv, "="); ok {
				args[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
		}
	case kindObject:
		if err := s.stringMap(args); err != nil {
			return "", err
		}
	default:
		return "", typeErr("config.model_args", "an object or string", v.kind)
	}
	if n := args["pretrained"]; n != "" {
		return n, nil
	}
	return args["model"], nil
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}
