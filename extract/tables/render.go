package tables

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The renderings of the package doc, shared by the backends.

func renderTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func renderDate(t time.Time) string { return t.Format(time.DateOnly) }

func renderFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// renderFloat32 renders a 4-byte float by its own shortest form ("0.1", not
// 0.10000000149011612 as its float64 value would print).
func renderFloat32(v float32) string { return strconv.FormatFloat(float64(v), 'f', -1, 32) }

func renderBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// renderDecimal renders unscaled × 10^-scale exactly, without trailing zeros after
// the point (nor the point when nothing follows it).
func renderDecimal(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	sign := ""
	if unscaled.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		if unscaled.Sign() == 0 {
			return "0"
		}
		return sign + digits + strings.Repeat("0", -scale)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-scale], strings.TrimRight(digits[len(digits)-scale:], "0")
	if frac == "" {
		if whole == "0" {
			sign = ""
		}
		return sign + whole
	}
	return sign + whole + "." + frac
}

// renderJSON renders anything else as its JSON text.
func renderJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strconv.Quote(err.Error())
	}
	return string(b)
}
