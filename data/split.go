package data

import "fmt"

// Split takes a validation set of round(fraction·n) examples (at least one,
// and leaving at least one) chosen by a permutation seeded by seed, before
// any shuffling; both parts keep file order.
func (d *Dataset) Split(fraction float64, seed uint64) (train, valid *Dataset, err error) {
	n := len(d.Examples)
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("data: --valid-fraction must be between 0 and 1, got %g", fraction)
	}
	nv := int(fraction*float64(n) + 0.5)
	nv = max(nv, 1)
	if nv >= n {
		return nil, nil, fmt.Errorf("data: --valid-fraction %g of %d examples leaves no training examples", fraction, n)
	}
	// A stream number the epoch permutations (streams 0, 1, 2…) never use.
	perm := permutation(n, true, seed, ^uint64(0))
	isValid := make([]bool, n)
	for _, i := range perm[:nv] {
		isValid[i] = true
	}
	train = &Dataset{Files: d.Files, Truncated: d.Truncated, Dropped: d.Dropped}
	valid = &Dataset{Files: d.Files}
	for i := range d.Examples {
		dst := train
		if isValid[i] {
			dst = valid
		}
		dst.Examples = append(dst.Examples, d.Examples[i])
		if d.Origins != nil {
			dst.Origins = append(dst.Origins, d.Origins[i])
		}
	}
	return train, valid, nil
}
