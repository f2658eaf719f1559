{{/* Names, labels and RBAC rules shared by the templates. */}}

{{- define "hatchet-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hatchet-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hatchet-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hatchet-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hatchet-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hatchet-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: hatchet-kube
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hatchet-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hatchet-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hatchet-operator.leaseName" -}}
{{- default (include "hatchet-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "hatchet-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's rules where it reconciles (cluster-wide or per watched namespace). Exactly what
hatchet_operator uses:
- hatchetworkers: list + watch (kopf's watch-fed index and event handler), get (before re-creating
  a deleted Deployment, confirm its owner still exists); status: patch
  (merge patch of conditions and counts). No create/update/delete: users own HatchetWorkers.
- hatchetworkers/finalizers: update, only so the Deployment's ownerReference may carry
  blockOwnerDeletion on clusters that enforce it (OwnerReferencesPermissionEnforcement).
- deployments: list + watch (index of the Deployments it manages), create + patch (server-side
  apply; an apply that creates the object also needs create). Never delete: the garbage collector
  removes Deployments through their ownerReference.
- deployments/scale: patch (autoscaling: the replica count, under its own field manager).
- pods: list (autoscaling: the pods of a HatchetWorker being scaled down), patch (the drain and
  pod-deletion-cost annotations on the idle pods chosen for removal). Never delete: the ReplicaSet
  controller removes them when the count drops.
- horizontalpodautoscalers: list (autoscaling: only when something other than the operator wrote an
  autoscaled Deployment's replicas, to name the HPA or KEDA ScaledObject that also scales it).
- events: create (Normal/Warning events about HatchetWorkers).
- secrets: list + watch, only with secretCheck.enabled (key names, to report a missing token).
*/}}
{{- define "hatchet-operator.workloadRules" -}}
- apiGroups: ["hatchetkube.io"]
  resources: ["hatchetworkers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["hatchetkube.io"]
  resources: ["hatchetworkers/status"]
  verbs: ["patch"]
- apiGroups: ["hatchetkube.io"]
  resources: ["hatchetworkers/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "patch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.secretCheck.enabled }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- end }}

{{/*
Leader election, in the release namespace only: create the Lease (create cannot be limited to a
name), then get, update (renew, release) and watch (liveness heartbeat) only that Lease.
*/}}
{{- define "hatchet-operator.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "hatchet-operator.leaseName" . | quote }}]
  verbs: ["get", "update", "watch"]
{{- end }}

{{/* Checks that values.schema.json cannot express; a failed check stops install with the message. */}}
{{- define "hatchet-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without the Lease every replica would reconcile" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (ge (float64 .Values.leaderElection.renewDeadline) (float64 .Values.leaderElection.leaseDuration)) }}
{{- fail "leaderElection.renewDeadline must be less than leaderElection.leaseDuration" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (ge (float64 .Values.leaderElection.retryPeriod) (float64 .Values.leaderElection.renewDeadline)) }}
{{- fail "leaderElection.retryPeriod must be less than leaderElection.renewDeadline" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (lt (int .Values.replicaCount) 2) }}
{{- fail "podDisruptionBudget.enabled needs replicaCount >= 2: with one replica the budget would block every node drain" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount)) }}
{{- fail "podDisruptionBudget.minAvailable must be less than replicaCount, else no voluntary disruption is ever allowed" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled=true (the ServiceMonitor selects that Service)" }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail "metrics.port and health.port must differ" }}
{{- end }}
{{- if ne (len .Values.watchNamespaces) (len (uniq .Values.watchNamespaces)) }}
{{- fail "watchNamespaces lists a namespace more than once" }}
{{- end }}
{{- end }}
