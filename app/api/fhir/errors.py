"""FHIR errors: an OperationOutcome with the message in the configured language (French or English)."""

from __future__ import annotations

from typing import Any

from app.domain.messages import register, render

register("fhir-param-unsupported",
         "Search parameter {name} is not supported (supported: {supported}).",
         "Le paramètre de recherche {name} n'est pas pris en charge (pris en charge : {supported}).")
register("fhir-param-not-held",
         "Search parameter {name} is not supported: Identito does not hold this data.",
         "Le paramètre de recherche {name} n'est pas pris en charge : Identito ne détient pas cette donnée.")
register("fhir-modifier-unsupported", "Modifier :{modifier} is not supported on {name} (only :exact on "
         "family and given).", "Le modificateur :{modifier} n'est pas pris en charge sur {name} (seul "
         ":exact l'est, sur family et given).")
register("fhir-param-invalid", "Invalid value for {name}: {why}.", "Valeur invalide pour {name} : {why}.")
register("fhir-format-unsupported", "Format {value} is not supported: use JSON or XML.",
         "Le format {value} n'est pas pris en charge : utilisez JSON ou XML.")
register("fhir-domain-unknown", "targetSystem not found: {system}.",
         "targetSystem not found : domaine d'identification inconnu ({system}).")
register("fhir-source-unknown-domain", "sourceIdentifier Assigning Authority not found: {system}.",
         "sourceIdentifier Assigning Authority not found : domaine inconnu ({system}).")
register("fhir-source-not-found", "sourceIdentifier Patient Identifier not found.",
         "sourceIdentifier Patient Identifier not found : aucun patient ne porte cet identifiant.")
register("fhir-patient-not-found", "Patient {ident} not found.", "Patient {ident} introuvable.")
register("fhir-match-input", "The $match input is invalid: {why}.",
         "L'entrée de $match est invalide : {why}.")
register("fhir-body-invalid", "The request body is not a valid FHIR resource: {why}.",
         "Le corps de la requête n'est pas une ressource FHIR valide : {why}.")


class FhirError(Exception):
    """An error of the FHIR layer: HTTP status, OperationOutcome issue code, message key and params."""

    def __init__(self, status: int, issue: str, key: str, *, severity: str = "error",
                 **params: Any) -> None:
        self.status, self.issue, self.key, self.severity, self.params = status, issue, key, severity, params
        super().__init__(key)

    def message(self, language: str) -> str:
        """The message in the configured language."""
        return render(self.key, language, **self.params)


def outcome(severity: str, issue: str, diagnostics: str, *, code: str | None = None) -> dict[str, Any]:
    """An OperationOutcome of one issue (``code``: Identito's stable error code, in details)."""
    entry: dict[str, Any] = {"severity": severity, "code": issue, "diagnostics": diagnostics}
    if code:
        entry["details"] = {"coding": [{"system": "urn:identito:problem", "code": code}]}
    return {"resourceType": "OperationOutcome", "issue": [entry]}
register("fhir-database-unavailable", "The database is unavailable for the moment; please retry.",
         "La base de données est momentanément indisponible ; réessayez.")
