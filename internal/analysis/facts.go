package analysis

import (
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/policy"
)

// Facts about a policy that more than one analysis reads.

// minScrutinyDays is the shortest scrutiny period the analyses accept as a
// period in which outsiders can read and answer a new version.
const minScrutinyDays = 14

// stopsTraining reports whether crossing t can stop training: a red line
// always does; `training: pause` does only when the threshold requires at
// least one safeguard (a pause "until every required safeguard is in
// force" with none required never pauses).
func stopsTraining(t *policy.Threshold) bool {
	return t.RedLine || (t.OnCross.TrainingAction() == policy.Pause && len(t.Requires) > 0)
}

// restrictsMode reports whether crossing t can stop a deployment in mode:
// a red line or `deny` always does; `require-safeguards` does when the
// threshold requires at least one safeguard.
func restrictsMode(t *policy.Threshold, mode string) bool {
	if t.RedLine {
		return true
	}
	switch t.OnCross.DeploymentAction(mode) {
	case policy.Deny:
		return true
	case policy.RequireSafeguards:
		return len(t.Requires) > 0
	}
	return false
}

// deployRank orders deployment actions from most open to most closed.
func deployRank(a string) int {
	switch a {
	case policy.Allow:
		return 0
	case policy.RequireSafeguards:
		return 1
	case policy.Deny:
		return 2
	}
	return -1
}

// deciders names who records determinations, for messages.
func deciders(p *policy.Policy) string {
	if len(p.Governance.DecisionMakers) == 0 {
		return "no one (governance.decisionMakers is empty)"
	}
	return strings.Join(p.Governance.DecisionMakers, ", ")
}

// usedSafeguards returns the ids of the safeguards some threshold requires.
func usedSafeguards(p *policy.Policy) map[string]bool {
	used := map[string]bool{}
	for _, t := range p.Thresholds {
		for _, r := range t.Requires {
			used[r] = true
		}
	}
	return used
}

func scrutinyDays(p *policy.Policy) float64 {
	return float64(p.Governance.ScrutinyPeriod) / float64(24*time.Hour)
}
