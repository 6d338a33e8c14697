"""Admission: what an object must pass before a write tool sends it to a cluster.

`Admission(settings).check(obj, ...)` applies the cluster-scope rule, the Kubernetes Pod Security
Standards (every control of k8s.io/pod-security-admission, version "latest", to every pod
template the object carries), the Secret-reference rule and the service-account rule, and
returns every violation; `refusal_message` words them the way the apiserver words a PodSecurity
refusal. Pure logic: no Kubernetes client, no MCP.

    admission = Admission(AdmissionSettings())
    violations = admission.check(obj, namespace="team-a", namespaced=True, is_admin=False,
                                 may_read_secrets=False)
    if violations:
        raise PermissionDenied(refusal_message(violations))
"""

from shared.admission.pod_security import Level, check_pod_security
from shared.admission.pod_view import SecretReference
from shared.admission.references import secret_references
from shared.admission.review import Admission, object_label
from shared.admission.settings import AdmissionSettings
from shared.admission.templates import PodTemplate, pod_templates
from shared.admission.violations import Violation, refusal_message

__all__ = [
    "Admission",
    "AdmissionSettings",
    "Level",
    "PodTemplate",
    "SecretReference",
    "Violation",
    "check_pod_security",
    "object_label",
    "pod_templates",
    "refusal_message",
    "secret_references",
]
