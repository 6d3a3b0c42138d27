package optim

import (
	"fmt"
	"math"
)

// ScheduleKind names a learning-rate schedule.
type ScheduleKind string

// The schedules, each with linear warmup from 0, as Hugging Face
// transformers' get_constant_schedule_with_warmup,
// get_linear_schedule_with_warmup and get_cosine_schedule_with_warmup
// (num_cycles 0.5).
const (
	Constant ScheduleKind = "constant"
	Linear   ScheduleKind = "linear"
	Cosine   ScheduleKind = "cosine"
)

// Schedule gives the learning rate of each optimizer step as a pure function
// of the step, so a resumed run needs only the step to continue.
type Schedule struct {
	Kind   ScheduleKind
	LR     float64 // peak learning rate
	Warmup int     // warmup steps
	Total  int     // optimizer steps of the whole run (linear and cosine decay to 0 at Total)
}

// ParseSchedule returns the kind named s ("constant", "linear", "cosine").
func ParseSchedule(s string) (ScheduleKind, error) {
	switch k := ScheduleKind(s); k {
	case Constant, Linear, Cosine:
		return k, nil
	}
	return "", fmt.Errorf("unknown schedule %q (want constant, linear or cosine)", s)
}

// Check reports a schedule no run means: an unknown kind (At runs it as
// constant), a learning rate that is not a positive number, negative
// warmup, or a linear or cosine schedule without Total, whose rate At gives
// as 0 at every step (transformers' get_scheduler refuses these kinds
// without num_training_steps, and unknown names).
func (s Schedule) Check() error {
	if _, err := ParseSchedule(string(s.Kind)); err != nil {
		return err
	}
	switch {
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return fmt.Errorf("the learning rate must be positive, got %v", s.LR)
	case s.Warmup < 0:
		return fmt.Errorf("warmup steps must not be negative, got %d", s.Warmup)
	case s.Kind != Constant && s.Total < 1:
		return fmt.Errorf("a %s schedule needs the run's total steps, got %d", s.Kind, s.Total)
	}
	return nil
}

// At returns the learning rate of optimizer step step (0-based): the value
// torch's LambdaLR holds while the optimizer takes its step-th update, the
// scheduler being stepped after each update as transformers' Trainer does.
// Step 0 of a run with warmup therefore has learning rate 0.
func (s Schedule) At(step int) float64 {
	return s.LR * s.factor(step)
}

// factor is transformers' lr_lambda for the kind.
func (s Schedule) factor(step int) float64 {
	if step < s.Warmup {
		return float64(step) / float64(max(1, s.Warmup))
	}
	switch s.Kind {
	case Linear:
		return max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
	case Cosine:
		progress := float64(step-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		const cycles = 0.5
		return max(0, 0.5*(1+math.Cos(math.Pi*cycles*2*progress)))
	}
	return 1
}
