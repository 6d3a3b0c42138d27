package kernels

import (
	"fmt"
	"math"
)

// IgnoreIndex is the target that marks a position excluded from the loss,
// as PyTorch's cross_entropy default.
const IgnoreIndex = -100

// CrossEntropyForward computes, per row, loss = logsumexp(logits) -
// logits[target] and returns the sum over counted rows and their count;
// rows whose target is ignoreIndex get loss 0 and are not counted. Divide
// the sums of all micro-batches by their total count for the mean.
// losses (BT), lse (BT) logsumexp saved for backward, logits (BT, V),
// targets (BT). A target outside [0, V) that is not ignoreIndex panics: the
// data loader checks targets.
func CrossEntropyForward(losses, lse, logits []float32, targets []int32, BT, V int, ignoreIndex int32) (sum float64, count int) {
	checkTargets(targets, BT, V, ignoreIndex)
	ParallelFor(BT, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := logits[i*V : (i+1)*V]
			m := maxOf(x)
			l := float64(m) + math.Log(sumExpShift(x, m))
			lse[i] = float32(l)
			if targets[i] == ignoreIndex {
				losses[i] = 0
				continue
			}
			losses[i] = float32(l - float64(x[targets[i]]))
		}
	})
	for i := 0; i < BT; i++ {
		if targets[i] != ignoreIndex {
			sum += float64(losses[i])
			count++
		}
	}
	return sum, count
}

// CrossEntropyMean is CrossEntropyForward returning the mean over counted
// rows (0 when every target is ignored) and the count, PyTorch's
// reduction="mean".
func CrossEntropyMean(losses, lse, logits []float32, targets []int32, BT, V int, ignoreIndex int32) (mean float32, count int) {
	sum, count := CrossEntropyForward(losses, lse, logits, targets, BT, V, ignoreIndex)
	if count == 0 {
		return 0, 0
	}
	return float32(sum / float64(count)), count
}

// CrossEntropyBackward writes (not accumulates) dlogits = (softmax(logits)
// - onehot(target))·dlossScale, and 0 on ignored rows. For the mean loss
// dlossScale is 1/count (the total count across micro-batches when
// accumulating gradients). dlogits (BT, V) may be logits itself, which then
// turns into its gradient in place; lse (BT) from the forward pass,
// targets (BT).
func CrossEntropyBackward(dlogits, logits, lse []float32, targets []int32, BT, V int, ignoreIndex int32, dlossScale float32) {
	checkTargets(targets, BT, V, ignoreIndex)
	ParallelFor(BT, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d, x := dlogits[i*V:(i+1)*V], logits[i*V:(i+1)*V]
			if targets[i] == ignoreIndex {
				clear(d)
				continue
			}
			if dlossScale > 0 {
				// One pass: scale·e^(x-lse) = e^(x - (lse - ln scale)).
				expAffine(d, x, 1, lse[i]-float32(math.Log(float64(dlossScale))))
			} else {
				expAffine(d, x, 1, lse[i])
				scaleInPlace(d, dlossScale)
			}
			d[targets[i]] -= dlossScale
		}
	})
}

// sumExpShift returns Σ exp(x - m) without storing the exponentials.
func sumExpShift(x []float32, m float32) float64 {
	var buf [1024]float32
	var s float64
	for len(x) > 0 {
		n := min(len(x), len(buf))
		s += expAffine(buf[:n], x[:n], 1, m)
		x = x[n:]
	}
	return s
}

func checkTargets(targets []int32, BT, V int, ignoreIndex int32) {
	for i, t := range targets[:BT] {
		if t != ignoreIndex && (t < 0 || int(t) >= V) {
			panic(fmt.Sprintf("kernels.CrossEntropy: target %d at row %d outside vocabulary of %d", t, i, V))
		}
	}
}

// crossEntropyForward is the reference in F with float64 exp; it returns
// the per-row losses and the sum and count like CrossEntropyForward.
func crossEntropyForward[F float](losses, logits []F, targets []int32, BT, V int, ignoreIndex int32) (float64, int) {
	var sum float64
	var count int
	for i := 0; i < BT; i++ {
		x := logits[i*V : (i+1)*V]
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		losses[i] = 0
		if targets[i] == ignoreIndex {
			continue
		}
		losses[i] = F(m + math.Log(s) - float64(x[targets[i]]))
		sum += float64(losses[i])
		count++
	}
	return sum, count
}

func crossEntropyBackward[F float](dlogits, logits []F, targets []int32, BT, V int, ignoreIndex int32, scale F) {
	p := make([]F, V)
	for i := 0; i < BT; i++ {
		d := dlogits[i*V : (i+1)*V]
		if targets[i] == ignoreIndex {
			clear(d)
			continue
		}
		softmaxForward(p, logits[i*V:(i+1)*V], 1, V)
		for j := range d {
			d[j] = p[j] * scale
		}
		d[targets[i]] -= scale
	}
}
