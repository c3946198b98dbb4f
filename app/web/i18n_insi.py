"""Words of the desk's INSi screens (retrieve, comparison, accept/reject, verify) and of the identity
document form, French and English. Labels only: the refusals' messages come from app/domain and
app/services.
"""

from __future__ import annotations

# key -> (French, English); merged into app.web.i18n.TEXT
INSI_TEXT: dict[str, tuple[str, str]] = {
    "insi_actions": ("Actions", "Actions"),
    "insi_retrieve": ("Interroger INSi", "Query INSi"),
    "insi_verify": ("Vérifier l'INS", "Verify the INS"),
    "insi_title": ("Réponse de l'INSi", "INSi answer"),
    "insi_local": ("Identité locale", "Local identity"),
    "insi_returned": ("Renvoyé par l'INSi", "Returned by INSi"),
    "insi_compare_caption": ("Traits stricts : identité locale et réponse de l'INSi",
                             "Strict traits: local identity and INSi answer"),
    "insi_cr": ("Code retour (CR)", "Return code (CR)"),
    "insi_cr_value": ("{code} – {label}", "{code} – {label}"),
    "insi_attempts": ("Interrogations successives (CR 02 : plusieurs identités)",
                      "Successive queries (CR 02: several identities)"),
    "insi_attempt_step": ("Traits envoyés", "Traits sent"),
    "insi_attempt_code": ("Réponse", "Answer"),
    "insi_ins_returned": ("INS renvoyée", "INS returned"),
    "insi_ins_history": ("INS précédentes renvoyées", "Previous INS returned"),
    "insi_status_after": ("Statut après acceptation", "Status after acceptance"),
    "insi_expires": ("Proposition valable jusqu'à {at} : décidez avant, sinon relancez l'interrogation.",
                     "Proposal valid until {at}: decide before, or query again."),
    "insi_differs_warning": ("Des traits diffèrent : vérifiez-les sur le justificatif d'identité avant "
                             "d'accepter. Accepter remplace les traits stricts par ceux de l'INSi.",
                             "Some traits differ: check them against the identity document before "
                             "accepting. Accepting replaces the strict traits with INSi's."),
    "insi_equal_note": ("Accepter enregistre l'INS et les traits stricts tels que l'INSi les renvoie.",
                        "Accepting stores the INS and the strict traits exactly as INSi returns them."),
    "insi_accept": ("Accepter", "Accept"),
    "insi_reject": ("Rejeter", "Reject"),
    "insi_reject_title": ("Rejeter la proposition", "Reject the proposal"),
    "insi_reject_hint": ("par exemple : la personne présente n'est pas celle renvoyée par l'INSi",
                         "for example: the person at the desk is not the one INSi returned"),
    "insi_back": ("Retour à l'identité", "Back to the identity"),
    "insi_accepted": ("Identité acceptée depuis l'INSi : statut {status} ({meaning}).",
                      "Identity accepted from INSi: status {status} ({meaning})."),
    "insi_rejected": ("Proposition de l'INSi refusée ; l'identité est inchangée.",
                      "INSi proposal rejected; the identity is unchanged."),
    "insi_not_found": ("L'INSi n'a trouvé aucune identité correspondant à ces traits.",
                       "INSi found no identity matching these traits."),
    "insi_ambiguous": ("L'INSi a trouvé plusieurs identités : impossible de choisir.",
                       "INSi found several identities: none can be chosen."),
    "insi_collision": ("L'INS renvoyée est déjà portée par l'identité n° {n} : doublon ou collision à "
                       "examiner par la cellule.",
                       "The INS returned is already held by identity no. {n}: a duplicate or a "
                       "collision for the cell to examine."),
    "insi_item_opened": ("Anomalie n° {n} ouverte pour la cellule d'identitovigilance.",
                         "Worklist item no. {n} opened for the identitovigilance cell."),
    "insi_item_traits": ("Des traits diffèrent de ceux de l'INSi : anomalie n° {n} ouverte pour la cellule "
                         "d'identitovigilance (close si vous acceptez).",
                         "Some traits differ from INSi's: worklist item no. {n} opened for the "
                         "identitovigilance cell (closed if you accept)."),
    "insi_item_open": ("Ouvrir l'anomalie n° {n}", "Open worklist item no. {n}"),
    "insi_hint": ("Conseil", "Advice"),
    "insi_verified": ("L'INSi confirme l'INS de cette identité (date du dernier appel INSi mise à jour).",
                      "INSi confirms this identity's INS (last INSi call date updated)."),
    "insi_verify_failed": ("Vérification de l'INS en échec ({verdict}) : statut {status}. {item}",
                           "INS verification failed ({verdict}): status {status}. {item}"),
    "insi_differing": ("Traits différents : {traits}.", "Differing traits: {traits}."),
    "doc_title": ("Enregistrer le justificatif d'identité", "Record the identity document"),
    "doc_type_field": ("Type de justificatif", "Document type"),
    "doc_expires_field": ("Date d'expiration", "Expiry date"),
    "doc_expires_hint": ("JJ/MM/AAAA, comme imprimée",
                         "DD/MM/YYYY, as printed"),
    "doc_no_expiry": ("Aucune date d'expiration imprimée", "No expiry date printed"),
    "doc_submit": ("Enregistrer le justificatif", "Record the document"),
    "doc_expires_invalid": ("Date d'expiration invalide : saisissez-la en JJ/MM/AAAA.",
                            "Invalid expiry date: type it as DD/MM/YYYY."),
    "doc_recorded": ("Justificatif {type} enregistré : statut {status} ({meaning}).",
                     "Document {type} recorded: status {status} ({meaning})."),
    "doc_recorded_low": ("Justificatif {type} enregistré ; il n'est pas de haut niveau de confiance : "
                         "le statut reste {status}.",
                         "Document {type} recorded; it is not high-trust: the status stays {status}."),
    "doc_high_trust_mark": ("haut niveau de confiance", "high trust"),
}

# The RNIV list of identity documents (ins-rniv §5; the codes are app.domain.documents.DocumentType).
DOCUMENT_LABELS: dict[str, tuple[str, str]] = {
    "CN": ("Carte nationale d'identité", "National identity card"),
    "PA": ("Passeport", "Passport"),
    "CS": ("Titre de séjour", "Residence permit"),
    "AN": ("Extrait d'acte de naissance (mineur)", "Birth certificate extract (minor)"),
    "LE": ("Livret de famille (mineur)", "Family record book (minor)"),
    "AC": ("Acte de naissance et carte Vitale avec photo", "Birth certificate and Vitale card with photo"),
    "DC": ("Document de circulation pour étranger mineur", "Travel document for a foreign minor"),
    "IE": ("Identification électronique (eIDAS substantiel ou élevé)",
           "Electronic identification (eIDAS substantial or high)"),
    "TC": ("Tiers de confiance", "Trusted third party"),
    "PC": ("Permis de conduire", "Driving licence"),
    "CM": ("Carte militaire", "Military card"),
    "CC": ("Carnet de circulation", "Travel booklet"),
    "CE": ("Carte européenne d'assurance maladie", "European health insurance card"),
}

# What each search of the CR 02 strategy sent (app.domain.insi_rules.resolve_several's steps).
ATTEMPT_STEPS: dict[str, tuple[str, str]] = {
    "first-name": ("Premier prénom de naissance", "First birth first name"),
    "all-first-names": ("Tous les prénoms de naissance", "Every birth first name"),
    "birth-place": ("Tous les prénoms et le lieu de naissance", "Every first name and the birth place"),
}

CR_LABELS: dict[str, tuple[str, str]] = {
    "00": ("une identité trouvée", "one identity found"),
    "01": ("aucune identité trouvée", "no identity found"),
    "02": ("plusieurs identités trouvées", "several identities found"),
}

VERDICT_LABELS: dict[str, tuple[str, str]] = {
    "confirmed": ("confirmée", "confirmed"),
    "different-ins": ("l'INSi renvoie une autre INS", "INSi returns another INS"),
    "traits-differ": ("les traits diffèrent", "the traits differ"),
    "not-found": ("l'INSi ne trouve plus l'identité", "INSi no longer finds the identity"),
    "ambiguous": ("l'INSi trouve plusieurs identités", "INSi finds several identities"),
}
