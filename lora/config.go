package lora

import (
	"errors"
	"fmt"
	"math"
	"regexp"
)

// AllLinear is the target that selects every linear layer but the output
// head, as PEFT's "all-linear".
const AllLinear = "all-linear"

// Config is a LoRA configuration (PEFT's LoraConfig fields loft supports).
type Config struct {
	R       int     // rank r
	Alpha   float64 // lora_alpha
	Dropout float64 // lora_dropout on the adapter's input, in [0, 1)
	// Targets are module-name suffixes ("q_proj", "attn.c_attn"): a module
	// matches when its name equals one or ends with "." + one. ["all-linear"]
	// selects every linear layer but the head.
	Targets []string
	// TargetRegex, when set instead of Targets, must match a module's
	// whole name (PEFT's re.fullmatch on a string target_modules).
	TargetRegex string
	// Exclude lists module-name suffixes never adapted (exclude_modules).
	Exclude []string
	// Layers, when not empty, keeps only modules of these layer indices
	// (layers_to_transform).
	Layers []int
	// RSLoRA scales by alpha/√r instead of alpha/r (Kalajdzievski 2023).
	RSLoRA bool
	// InitGaussian draws A from N(0, (1/r)²) as PEFT's "gaussian" init;
	// otherwise A is Kaiming-uniform with a = √5. B starts at zero.
	InitGaussian bool
	// Seed seeds the initialisation and the dropout masks.
	Seed uint64
}

// Scale returns s = alpha/r, or alpha/√r with RSLoRA.
func (c *Config) Scale() float64 { return scaleOf(c.Alpha, c.R, c.RSLoRA) }

func scaleOf(alpha float64, r int, rs bool) float64 {
	if rs {
		return alpha / math.Sqrt(float64(r))
	}
	return alpha / float64(r)
}

// Validate checks the settings that need no model.
func (c *Config) Validate() error {
	switch {
	case c.R < 1:
		return fmt.Errorf("lora: rank r must be at least 1, got %d", c.R)
	case !(c.Alpha > 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("lora: alpha must be positive, got %v", c.Alpha)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("lora: dropout must be in [0, 1), got %v", c.Dropout)
	case len(c.Targets) == 0 && c.TargetRegex == "":
		return errors.New("lora: no target modules (give a list of names, all-linear, or a regular expression)")
	case len(c.Targets) > 0 && c.TargetRegex != "":
		return errors.New("lora: give target names or a target regular expression, not both")
	case c.TargetRegex != "" && len(c.Layers) > 0:
		// PEFT's LoraConfig raises "layers_to_transform cannot be used when
		// target_modules is a str": such an adapter would not load there.
		return errors.New("lora: a target regular expression cannot be combined with a layer selection (PEFT refuses layers_to_transform with a string target_modules); name the layers in the expression, such as layers\\.(0|1)\\.")
	}
	for _, t := range c.Targets {
		if t == "" {
			return errors.New("lora: empty target module name")
		}
		if t == AllLinear && len(c.Targets) > 1 {
			return fmt.Errorf("lora: %s selects every linear layer; it cannot be combined with other targets %q", AllLinear, c.Targets)
		}
	}
	if c.TargetRegex != "" {
		if _, err := regexp.Compile(c.TargetRegex); err != nil {
			return fmt.Errorf("lora: target regular expression %q: %v", c.TargetRegex, err)
		}
	}
	for _, l := range c.Layers {
		if l < 0 {
			return fmt.Errorf("lora: layer index %d is negative", l)
		}
	}
	return nil
}
