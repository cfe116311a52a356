{{/* Names, labels and the derived settings every template shares. */}}

{{- define "kro-rs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kro-rs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kro-rs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kro-rs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kro-rs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kro-rs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kro-rs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kro-rs.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when leader election is on: asked for, or needed by more than one replica. */}}
{{- define "kro-rs.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/* The AWS controllers' names, lower-cased and trimmed, as `kro run --aws-controllers` reads them. */}}
{{- define "kro-rs.awsControllerList" -}}
{{- $out := list -}}
{{- range (splitList "," (toString .Values.aws.controllers)) -}}
{{- $c := . | trim | lower -}}
{{- if $c -}}{{- $out = append $out $c -}}{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* "true" or "false": --enable-resource-adoption, off by default in least-privilege mode. */}}
{{- define "kro-rs.awsResourceAdoption" -}}
{{- $v := .Values.aws.enableResourceAdoption -}}
{{- if kindIs "bool" $v -}}{{ $v }}
{{- else if eq (toString $v) "" -}}{{ ne .Values.rbac.mode "aggregation" }}
{{- else if has (toString $v) (list "true" "false") -}}{{ $v }}
{{- else -}}{{ fail (printf "aws.enableResourceAdoption=%v: write true, false, or leave it empty (on unless rbac.mode is aggregation)" $v) }}
{{- end -}}
{{- end -}}

{{/* "true" when the S3 Bucket controller runs. */}}
{{- define "kro-rs.awsS3" -}}
{{- $l := splitList "," (include "kro-rs.awsControllerList" .) -}}
{{- if or (has "all" $l) (has "s3" $l) (has "bucket" $l) -}}true{{- end -}}
{{- end -}}

{{/* The RDS kinds whose controllers run, as a comma-separated list of plurals. */}}
{{- define "kro-rs.awsRdsResources" -}}
{{- $l := splitList "," (include "kro-rs.awsControllerList" .) -}}
{{- $out := list -}}
{{- range (list (list "dbsubnetgroup" "dbsubnetgroups") (list "dbparametergroup" "dbparametergroups") (list "dbclusterparametergroup" "dbclusterparametergroups") (list "dbcluster" "dbclusters") (list "dbinstance" "dbinstances")) -}}
{{- if or (has "all" $l) (has "rds" $l) (has (index . 0) $l) (has (index . 1) $l) -}}{{- $out = append $out (index . 1) -}}{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* The IAM kinds whose controllers run, as a comma-separated list of plurals. */}}
{{- define "kro-rs.awsIamResources" -}}
{{- $l := splitList "," (include "kro-rs.awsControllerList" .) -}}
{{- $out := list -}}
{{- if or (has "all" $l) (has "iam" $l) (has "policy" $l) (has "policies" $l) -}}{{- $out = append $out "policies" -}}{{- end -}}
{{- if or (has "all" $l) (has "iam" $l) (has "role" $l) (has "roles" $l) -}}{{- $out = append $out "roles" -}}{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* The EC2 kinds whose controllers run, as a comma-separated list of plurals. */}}
{{- define "kro-rs.awsEc2Resources" -}}
{{- $l := splitList "," (include "kro-rs.awsControllerList" .) -}}
{{- $out := list -}}
{{- range (list (list "vpc" "vpcs") (list "subnet" "subnets") (list "securitygroup" "securitygroups") (list "internetgateway" "internetgateways") (list "routetable" "routetables") (list "elasticipaddress" "elasticipaddresses") (list "natgateway" "natgateways")) -}}
{{- if or (has "all" $l) (has "ec2" $l) (has (index . 0) $l) (has (index . 1) $l) -}}{{- $out = append $out (index . 1) -}}{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* "instance" or "any": --namespace-confinement, instance by default in least-privilege mode. */}}
{{- define "kro-rs.namespaceConfinement" -}}
{{- $v := toString .Values.config.namespaceConfinement -}}
{{- if eq $v "" -}}{{ if eq .Values.rbac.mode "aggregation" }}instance{{ else }}any{{ end }}
{{- else if has $v (list "instance" "any") -}}{{ $v }}
{{- else -}}{{ fail (printf "config.namespaceConfinement=%v: write instance, any, or leave it empty (instance when rbac.mode is aggregation)" $v) }}
{{- end -}}
{{- end -}}
