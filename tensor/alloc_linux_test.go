package tensor

import (
	"bufio"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestMakeAdvisesHugePages checks, in /proc/self/smaps, that the mappings
// holding a large Make buffer's aligned pages, a small Weights buffer and
// a Mapped buffer carry the huge-page advice ("hg" in VmFlags). Whether
// the kernel then gives huge pages depends on its settings and free
// memory, so that is not asserted; a kernel that refuses the advice skips.
func TestMakeAdvisesHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("this kernel has no transparent huge pages")
	}
	if !hugeAdvice {
		t.Skip("LOFT_HUGEPAGES=0 turns the advice off")
	}
	probe := make([]byte, 3*hugePage)
	pl, ph := hugeSpan(uintptr(unsafe.Pointer(unsafe.SliceData(probe))), len(probe))
	if err := unix.Madvise(probe[pl:ph], unix.MADV_HUGEPAGE); err != nil {
		t.Skipf("this kernel refuses the advice: %v", err)
	}
	b := Make(4 << 20) // 16 MiB
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo, hi := hugeSpan(p, 4*len(b))
	if lo >= hi {
		t.Fatal("a 16 MiB buffer holds no whole 2 MiB page")
	}
	checkAdvised(t, "Make(16 MiB)", p+uintptr(lo))
	// A 1 MiB weight is too small for Make to cover, but Weights carves it
	// from an advised chunk: all of it is advised.
	w := Weights(256 << 10)
	checkAdvised(t, "Weights(1 MiB)", uintptr(unsafe.Pointer(unsafe.SliceData(w))))
	checkAdvised(t, "Weights(1 MiB), its end", uintptr(unsafe.Pointer(&w[len(w)-1])))
	m, release := Mapped(4 << 20)
	checkAdvised(t, "Mapped(16 MiB)", uintptr(unsafe.Pointer(&m[len(m)/2])))
	release()
}

func checkAdvised(t *testing.T, what string, a uintptr) {
	t.Helper()
	flags, err := vmFlags(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("%s: the mapping at %#x has VmFlags %q, without hg", what, a, flags)
	}
}

// vmFlags returns the VmFlags line of the /proc/self/smaps mapping that
// holds address a.
func vmFlags(a uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var start, end uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &start, &end); n == 2 && strings.Count(strings.Fields(line)[0], "-") == 1 {
			in = start <= a && a < end
			continue
		}
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping in /proc/self/smaps holds %#x", a)
}
