//go:build tools

// Pins kro's controller for the side-by-side benchmark (bench/compare.sh).
package tools

import _ "github.com/kubernetes-sigs/kro/cmd/controller"
