//go:build tools

// Package tools pins the helm command built by e2e/scripts/helm.sh.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
