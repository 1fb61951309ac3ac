// Package audit re-runs a sample of a lab's evaluation and tests whether
// the lab's reported scores hold up.
//
// [ReadLog] reads an Inspect log that carries its samples (a .json log,
// streamed, or an .eval archive), with each sample's input, target,
// choices, the messages the lab's model was sent, and the lab's score.
// [Draw] picks N samples reproducibly from a seed. [Rerun] sends the same
// messages to an endpoint (with the runner's client, resume state and
// scorers, which follow Inspect's), scores the answers with the log's
// scorer, and compares the two sets of scores on the same samples:
//
//   - McNemar's exact test (the decisive test by default): the samples are
//     paired, so only the discordant pairs carry information; under equal
//     accuracy the number the lab got right and the re-run wrong is
//     Binomial(discordant, 1/2).
//   - Fisher's exact test and the pooled two-proportion z-test of the two
//     accuracies, treating them as independent samples (more conservative
//     for paired data; shown for comparison).
//   - An exact binomial test of the re-run's correct count against the
//     accuracy the lab's log reports for the whole run.
//
// The verdict is "discrepant" when the decisive test's two-sided p-value is
// below alpha, "consistent" otherwise, and "inconclusive" with no scored
// pair. [Attest] signs the outcome as an in-toto statement about the log
// file (predicate type [PredicateType]) in a DSSE envelope.
package audit
