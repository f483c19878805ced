{{/* Names, labels and the parts every workload shares. */}}

{{- define "pr.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pr.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "ingest"). */}}
{{- define "pr.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pr.kafkaCluster" -}}{{ include "pr.fullname" . }}-kafka{{- end -}}

{{- define "pr.bootstrap" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{ include "pr.kafkaCluster" . }}-kafka-bootstrap:9092
{{- else -}}
{{ required "kafka.bootstrap is required without kafka.strimzi.enabled" .Values.kafka.bootstrap }}
{{- end -}}
{{- end -}}

{{/* The settings the chart derives from its own keys, for every service. */}}
{{- define "pr.derivedSettings" -}}
PR_KAFKA_BOOTSTRAP: {{ include "pr.bootstrap" . | quote }}
PR_REDIS_CLUSTER: {{ .Values.redis.cluster | toString | quote }}
PR_DEAL_EVENT_PARTITIONS: {{ .Values.topics.dealEventsPartitions | toString | quote }}
PR_TOPIC_REPLICATION_FACTOR: {{ .Values.topics.replicationFactor | toString | quote }}
PR_TOPIC_MIN_INSYNC_REPLICAS: {{ .Values.topics.minInsyncReplicas | toString | quote }}
PR_DEAD_LETTER_RETENTION_DAYS: {{ .Values.topics.deadLetterRetentionDays | toString | quote }}
{{- end -}}

{{/* A ConfigMap's data: shared, derived and one component's settings; empty values stay unset. */}}
{{- define "pr.settingsData" -}}
{{- $derived := fromYaml (include "pr.derivedSettings" .root) -}}
{{- $secretNames := list -}}
{{- range $part := list "common" "ingest" "review" "scoring" }}
{{- $secretNames = concat $secretNames (index $.root.Values.secret $part).required (index $.root.Values.secret $part).optional }}
{{- end }}
{{- range $name, $_ := merge (dict) (.settings | default dict) .root.Values.settings }}
{{- if hasKey $derived $name }}{{ fail (printf "%s is set by the chart from its kafka, topics or redis keys, not in settings" $name) }}{{ end }}
{{- if has $name $secretNames }}{{ fail (printf "%s is a secret: it comes from the Secret %s, never from values" $name $.root.Values.secret.name) }}{{ end }}
{{- end }}
{{- $all := merge (dict) $derived (.settings | default dict) .root.Values.settings -}}
{{- range $name, $value := $all }}
{{- if not (hasPrefix "PR_" $name) }}{{ fail (printf "setting %s does not start with PR_" $name) }}{{ end }}
{{- if ne (toString $value) "" }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* env entries from the Secret: (dict "root" $ "component" "ingest"). */}}
{{- define "pr.secretEnv" -}}
{{- $secret := .root.Values.secret -}}
{{- range $optional, $names := dict "false" (concat $secret.common.required (index $secret .component).required) "true" (concat $secret.common.optional (index $secret .component).optional) }}
{{- range $names }}
- name: {{ . }}
  valueFrom:
    secretKeyRef: {name: {{ $secret.name }}, key: {{ . }}, optional: {{ $optional }}}
{{- end }}
{{- end }}
{{- end -}}

{{/* The pod spec every component shares: (dict "root" $ "component" "ingest" "command" "pr-ingest"
     "values" .Values.ingest "port" 8001 "volumes" list). */}}
{{- define "pr.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "pr.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/settings: {{ include "pr.settingsData" (dict "root" $root "settings" .values.settings) | sha256sum }}
spec:
  serviceAccountName: {{ include "pr.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext: {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ .component }}
      image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: [{{ .command | quote }}]
      envFrom:
        - configMapRef: {name: {{ include "pr.fullname" $root }}-{{ .component }}}
      env: {{- include "pr.secretEnv" . | nindent 8 }}
      ports:
        - {name: http, containerPort: {{ .port }}}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 10
        failureThreshold: 6
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: 5
        failureThreshold: 3
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 2
        failureThreshold: 90
      resources: {{- toYaml .values.resources | nindent 8 }}
      securityContext: {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
        {{- range .mounts }}
        - {{ toYaml . | nindent 10 | trim }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {sizeLimit: 256Mi}
    {{- range .volumes }}
    - {{ toYaml . | nindent 6 | trim }}
    {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget: (dict "root" $ "component" "ingest" "pdb" .Values.ingest.pdb). */}}
{{- define "pr.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "pr.fullname" .root }}-{{ .component }}
  labels: {{- include "pr.labels" .root | nindent 4 }}
spec:
  {{- toYaml .pdb | nindent 2 }}
  selector:
    matchLabels: {{- include "pr.selector" . | nindent 6 }}
{{- end -}}

{{/* The ConfigMap of one component's settings. */}}
{{- define "pr.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "pr.fullname" .root }}-{{ .component }}
  labels: {{- include "pr.labels" .root | nindent 4 }}
data:
  {{- include "pr.settingsData" (dict "root" .root "settings" .settings) | nindent 2 }}
{{- end -}}

{{/* An HTTP service's Deployment, Service, HPA and PDB (ingest, review). */}}
{{- define "pr.httpService" -}}
{{- $ctx := . -}}
{{- $v := .values -}}
{{ include "pr.configMap" (dict "root" .root "component" .component "settings" $v.settings) }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "pr.fullname" .root }}-{{ .component }}
  labels:
    {{- include "pr.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels: {{- include "pr.selector" . | nindent 6 }}
  template:
    {{- include "pr.podTemplate" (merge (dict "volumes" list "mounts" list) $ctx) | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "pr.fullname" .root }}-{{ .component }}
  labels: {{- include "pr.labels" .root | nindent 4 }}
spec:
  type: {{ $v.service.type }}
  selector: {{- include "pr.selector" . | nindent 4 }}
  ports:
    - {name: http, port: {{ $v.service.port }}, targetPort: http}
{{- if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "pr.fullname" .root }}-{{ .component }}
  labels: {{- include "pr.labels" .root | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ include "pr.fullname" .root }}-{{ .component }}}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}}
{{- end }}
---
{{ include "pr.pdb" (dict "root" .root "component" .component "pdb" $v.pdb) }}
{{- end -}}
