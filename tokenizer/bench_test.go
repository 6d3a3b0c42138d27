package tokenizer

import (
	"runtime"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/internal/refdata"
)

// benchText joins the texts of a corpus file up to about 1 MB.
func benchText(b *testing.B, rel string) string {
	var sb strings.Builder
	for _, s := range refdata.Texts(b, rel, 1<<20) {
		if sb.Len() > 1<<20 {
			break
		}
		sb.WriteString(s)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// BenchmarkEncode measures encoding throughput on one goroutine (MB/s) for
// English (CUAD contracts) and Chinese (PRC statutes) text. "warm" encodes
// the same megabyte again and again, so every word is in the cache; "cold"
// empties the cache before each pass.
func BenchmarkEncode(b *testing.B) {
	texts := map[string]string{
		"en": benchText(b, "raw_text/cuad_contract_clauses_en/train.jsonl"),
		"zh": benchText(b, "raw_text/cn_laws/train.jsonl"),
	}
	for _, tk := range []struct{ name, dir string }{{"qwen3", "qwen3-tokenizer"}, {"llama2", "llama2-tokenizer"}} {
		p := loadShared(b, tk.dir)
		for _, lang := range []string{"en", "zh"} {
			for _, cold := range []bool{false, true} {
				name := tk.name + "/" + lang + "/warm"
				if cold {
					name = tk.name + "/" + lang + "/cold"
				}
				text := texts[lang]
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(len(text)))
					p.Encode(text, false)
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cpu0, n := threadCPU(), 0
					for b.Loop() {
						if cold {
							p.model.(interface{ ResetCache() }).ResetCache()
						}
						p.Encode(text, false)
						n++
					}
					// Throughput per CPU second of this thread: what one
					// core gives when the machine is shared.
					if cpu := threadCPU() - cpu0; cpu > 0 {
						b.ReportMetric(float64(n*len(text))/1e6/cpu.Seconds(), "cpuMB/s")
					}
				})
			}
		}
	}
}

// BenchmarkLoadQwen3 measures loading the 11 MB Qwen3 tokenizer.json.
func BenchmarkLoadQwen3(b *testing.B) {
	dir := testutil.SharedDir(b, "models", "qwen3-tokenizer")
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
