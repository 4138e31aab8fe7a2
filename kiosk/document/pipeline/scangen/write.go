package scangen

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
)

// Write stores samples in dir as NAME.png and expected.json.
func Write(dir string, samples []Sample) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scangen: %w", err)
	}
	for _, s := range samples {
		f, err := os.Create(filepath.Join(dir, s.Spec.Name+".png"))
		if err != nil {
			return fmt.Errorf("scangen: %w", err)
		}
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(f, s.Image)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("scangen: %s: %w", s.Spec.Name, err)
		}
	}
	b, err := json.MarshalIndent(samples, "", "  ")
	if err != nil {
		return fmt.Errorf("scangen: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o644)
}
