"""FHIR R4 interface on FR Core: IHE PDQm (ITI-78, ITI-119) and PIXm (ITI-83), read-only."""
