package train

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotLoss draws the training loss per step and the validation losses as a
// PNG at path (gonum/plot: pure Go, so CGO_ENABLED=0 builds keep working).
func plotLoss(path string, h history) error {
	if len(h.Train) == 0 {
		return errNoPoints
	}
	p := plot.New()
	p.Title.Text = "loft train: loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "cross-entropy (nats/token)"
	p.Add(plotter.NewGrid())
	train, err := plotter.NewLine(xys(h.Train))
	if err != nil {
		return err
	}
	train.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(train)
	p.Legend.Add("train", train)
	if len(h.Val) > 0 {
		val, pts, err := plotter.NewLinePoints(xys(h.Val))
		if err != nil {
			return err
		}
		c := color.RGBA{R: 214, G: 39, B: 40, A: 255}
		val.Color, pts.Color = c, c
		p.Add(val, pts)
		p.Legend.Add("validation", val, pts)
	}
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

func xys(ps []Point) plotter.XYs {
	out := make(plotter.XYs, len(ps))
	for i, p := range ps {
		out[i].X, out[i].Y = float64(p.Step), p.Loss
	}
	return out
}
