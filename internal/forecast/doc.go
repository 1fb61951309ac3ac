// Package forecast predicts at what training compute an evaluation's score
// will reach a threshold, with an uncertainty interval, and measures whether
// evaluations move together across checkpoints.
//
// # Model
//
// For one model family, each evaluation is scored at checkpoints whose
// effective training compute C (FLOP) is known. The score is modelled as a
// bounded sigmoid of x = log10(C):
//
//	score(x) = lo + (hi − lo) / (1 + exp(−k·(x − x0)))
//
// lo is the floor (chance level), hi the ceiling, x0 the log-compute where
// the score is halfway between them, and k > 0 the steepness per decade of
// compute: the score climbs from 10% to 90% of its range within 4.39/k
// decades. The floor is fixed by Options.Chance when given and otherwise
// fitted within [0, lowest score]; the ceiling is fixed by Options.Upper when
// given and otherwise fitted within [highest score, 1]. k is capped at
// MaxSteepness (100 per decade).
//
// The curve is fitted by least squares. Because the model is linear in lo
// and hi once k and x0 are fixed, lo and hi are solved exactly for each
// (k, x0) (variable projection), and (k, x0) are found by gonum's Newton
// method with the analytic gradient and a Gauss–Newton Hessian, started from
// the best points of a coarse grid. A straight line score = a + b·x
// (ordinary least squares, clamped to the floor and ceiling) is fitted
// instead when there are fewer than MinSigmoidPoints (5) distinct compute
// values, when the sigmoid fit does not converge, or when the fitted sigmoid
// is nearly straight over the data (its 10%–90% rise would take more than ten
// times the observed compute span, so its midpoint and steepness are not
// determined); Fit.Fallback and the forecast's notes say so.
//
// A threshold "score ≥ c" fires where the fitted curve first reaches c.
// Crossing estimates its uncertainty with a bootstrap over checkpoints:
// the checkpoints are resampled with replacement (seeded, so results are
// reproducible), the curve is refitted to each resample starting from the
// full fit, and the crossing compute of each refit is recorded. A refit that
// never reaches c counts as +Inf, so the upper end of the interval can be
// +Inf; that is reported, not hidden. FiresAt is the median crossing and
// Interval the equal-tailed quantiles at Options.Confidence (default 80%),
// widened in log-compute about the median by sqrt(n/(n − p)) for n points
// and p fitted parameters, a standard small-sample correction for case
// resampling. In simulations (200 datasets of 20 checkpoints with Gaussian
// noise of 0.03) the 80% interval contained the true crossing 78–81% of the
// time when the crossing lay within the data, and 71% of the time when it
// lay just beyond the last checkpoint with the ceiling unknown.
//
// # Assumptions and limits
//
//   - Scores are fractions in [0, 1] that rise with compute along one
//     S-shaped curve. Plateaus followed by a second rise, or declines, are
//     not modelled.
//   - Checkpoint errors are treated as independent. Checkpoints of one
//     training run share data and weights, so real uncertainty is larger than
//     the interval says.
//   - Extrapolation assumes the sigmoid continues beyond the data. When the
//     ceiling is not known and the scores have not levelled off, the fitted
//     ceiling is poorly determined and often sits just above the best score,
//     so forecasts of much higher levels come back with an unbounded interval
//     or as an error. Pass Options.Upper when the ceiling is known (for
//     example 1 for exact-match accuracy that can reach 100%).
//   - A sharp emergence cannot be predicted from checkpoints taken before it
//     starts: the curve's shape is then constrained only by the first few
//     points above the floor, and the forecast says so in its notes. On the
//     project's real training curves (two small transformers, five
//     arithmetic tasks), forecasts made from the first 10 of 15 checkpoints
//     bracketed the later crossing for 6 of 10 tasks with the ceiling fixed
//     at 1; with the ceiling free, 6 of 10 were bracketed but only one
//     interval had a finite upper end, and 4 could not be forecast.
//   - Constraining the floor to be at most the lowest score (and the ceiling
//     to be at least the highest) biases them outward when scores are noisy;
//     the effect on crossings in the middle of the curve is small.
//   - Inputs with no usable trend (fewer than two distinct compute values,
//     identical points, all-zero or constant scores, scores that do not
//     increase with compute, only one checkpoint above the lowest score,
//     non-finite values, compute ≤ 0) and levels that cannot be reached
//     are reported as errors wrapping ErrCannotForecast, never as a number.
//     Weaker problems (a straight-line fallback, scores far from monotone, a
//     rise that has barely begun or is sharper than the checkpoint spacing,
//     a wide or unbounded interval, a level above the fitted ceiling, long
//     extrapolation) are reported in Forecast.Notes.
//
// # Correlation
//
// Spearman computes the rank correlation of two series (ties get average
// ranks). Correlate computes it for every pair of evaluations over the
// checkpoints where both have a score, with a bootstrap interval over those
// checkpoints. WeaklyCorrelated names the domains whose evaluations, on
// average, correlate with evaluations of other domains below a given value.
//
// The package does no I/O, and its results depend only on the inputs and
// Options.Seed, not on the clock or on scheduling.
package forecast
