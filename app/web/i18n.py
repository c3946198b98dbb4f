"""Words of the browser pages, in French (the field's own vocabulary) and English.

Labels only: what a status or an attribute means is written here once for display; the rules
behind them stay in app/domain.
"""

from __future__ import annotations

from app.web.i18n_admin import ADMIN_TEXT
from app.web.i18n_ind import IND_TEXT
from app.web.i18n_insi import INSI_TEXT
from app.web.i18n_more import MORE_TEXT
from app.web.i18n_print import PRINT_TEXT

# key -> (French, English)
TEXT: dict[str, tuple[str, str]] = {
    "app_name": ("Identito", "Identito"),
    "skip": ("Aller au contenu", "Skip to content"),
    "search_title": ("Rechercher une identité", "Find an identity"),
    "name": ("Nom de naissance ou utilisé", "Birth or used name"),
    "name_hint": ("début du nom, sans accents ni tirets nécessaires", "start of the name"),
    "first_name": ("Prénom", "First name"),
    "birth_date": ("Date de naissance", "Birth date"),
    "birth_date_hint": ("JJ/MM/AAAA, MM/AAAA ou AAAA", "DD/MM/YYYY, MM/YYYY or YYYY"),
    "ipp": ("IPP", "IPP"),
    "ins": ("Matricule INS (NIR ou NIA)", "INS matricule (NIR or NIA)"),
    "search": ("Rechercher", "Search"),
    "shortcuts": ("Raccourcis : / ou Alt+R (Firefox : Alt+Maj+R) recherche, ↓ résultats, Entrée ouvre, "
                  "Échap retour",
                  "Shortcuts: / or Alt+R (Firefox: Alt+Shift+R) search, ↓ results, Enter opens, Escape back"),
    "type_something": ("Saisissez au moins un critère.", "Type at least one criterion."),
    "no_result": ("Aucune identité ne correspond.", "No identity matches."),
    "results": ("Résultats", "Results"),
    "result_count": ("{n} identité(s) affichée(s)", "{n} identity(ies) shown"),
    "status": ("Statut", "Status"),
    "attributes": ("Attributs", "Attributes"),
    "sex": ("Sexe", "Sex"),
    "birth_name": ("Nom de naissance", "Birth name"),
    "first_names": ("Prénom(s) de naissance", "Birth first names"),
    "first_first_name": ("Premier prénom de naissance", "First birth first name"),
    "used_name": ("Nom utilisé", "Used name"),
    "used_first_name": ("Prénom utilisé", "Used first name"),
    "birth_place": ("Lieu de naissance (code INSEE)", "Birth place (INSEE code)"),
    "strict_traits": ("Traits stricts", "Strict traits"),
    "other_traits": ("Traits complémentaires", "Complementary traits"),
    "identity": ("Identité", "Identity"),
    "identity_n": ("Identité n° {n}", "Identity no. {n}"),
    "ins_title": ("INS", "INS"),
    "ins_none": ("Aucune INS enregistrée.", "No INS recorded."),
    "ins_oid": ("OID", "OID"),
    "ins_qualified": ("INS qualifiée : utilisable et transmissible.",
                      "Qualified INS: may be used and sent."),
    "ins_not_qualified": ("INS non qualifiée : ne pas l'utiliser ni la transmettre.",
                          "INS not qualified: do not use or send it."),
    "ins_history": ("INS précédentes", "Previous INS"),
    "insi_at": ("Dernier appel INSi", "Last INSi call"),
    "documents": ("Justificatifs d'identité", "Identity documents"),
    "documents_none": ("Aucun justificatif enregistré.", "No identity document recorded."),
    "doc_type": ("Type", "Type"),
    "doc_high_trust": ("Haut niveau de confiance", "High trust"),
    "doc_checked": ("Vérifié par, le", "Checked by, on"),
    "doc_expires": ("Expire le", "Expires on"),
    "doc_withdrawn": ("Retiré", "Withdrawn"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "history": ("Historique", "History"),
    "history_none": ("Aucun événement.", "No event."),
    "history_hidden": ("L'historique n'est pas accessible à votre rôle.",
                       "Your role cannot see the history."),
    "who": ("Par", "By"),
    "why": ("Motif", "Reason"),
    "changes": ("Modifications", "Changes"),
    "merged_banner": ("Identité close : fusionnée dans l'identité n° {n}.",
                      "Closed identity: merged into identity no. {n}."),
    "go_survivor": ("Ouvrir l'identité n° {n}", "Open identity no. {n}"),
    "back_search": ("Retour à la recherche", "Back to search"),
    "sign_in": ("Se connecter", "Sign in"),
    "sign_out": ("Se déconnecter", "Sign out"),
    "signed_out": ("Vous êtes déconnecté(e).", "You are signed out."),
    "signed_in_as": ("Connecté(e) : {name}", "Signed in: {name}"),
    "dev_sign_in": ("Connexion de développement", "Development sign-in"),
    "dev_warning": ("Réservée au développement et à la formation : aucun mot de passe n'est demandé.",
                    "For development and training only: no password is asked."),
    "user_name": ("Identifiant", "User name"),
    "roles": ("Rôles", "Roles"),
    "no_sign_in": ("Aucune méthode de connexion n'est configurée : voir docs/web.md.",
                   "No sign-in method is configured: see docs/web.md."),
    "pick_role": ("Choisissez au moins un rôle.", "Pick at least one role."),
    "bad_user": ("Identifiant : lettres, chiffres, point, tiret ; 64 caractères au plus.",
                 "User name: letters, digits, dot, hyphen; 64 characters at most."),
    "csrf": ("Formulaire expiré ou falsifié : rechargez la page et recommencez.",
             "Expired or forged form: reload the page and try again."),
    "session_expired": ("Votre session a expiré : reconnectez-vous.", "Your session expired: sign in again."),
    "not_found": ("Page introuvable.", "Page not found."),
    "bad_request": ("Adresse ou formulaire invalide : revenez à la recherche.",
                    "Invalid address or form: go back to the search."),
    "error": ("Erreur", "Error"),
    "db_unavailable_title": ("Base de données indisponible", "Database unavailable"),
    "db_unavailable": ("La base de données est momentanément indisponible : rien n'a été enregistré. "
                       "Réessayez dans quelques instants ; si cela dure, prévenez le support informatique.",
                       "The database is unavailable for the moment: nothing was written. Try again in a "
                       "few moments; if it lasts, tell the IT support."),
    "resend": ("Renvoyer le formulaire", "Send the form again"),
    "resend_hint": ("Ce que vous aviez saisi est gardé : il sera renvoyé tel quel.",
                    "What you typed is kept: it will be sent again as it was."),
    "retry": ("Réessayer", "Try again"),
    "unexpected": ("Erreur inattendue (référence {reference}). Vérifiez si l'opération a été faite avant "
                   "de la refaire, et donnez cette référence au support informatique.",
                   "Unexpected error (reference {reference}). Check whether the operation was done "
                   "before doing it again, and give this reference to the IT support."),
    "server_unreachable": ("Le serveur Identito ne répond pas : rien n'a été envoyé. Vérifiez le réseau, "
                           "puis réessayez.",
                           "The Identito server does not answer: nothing was sent. Check the network, "
                           "then try again."),
    "open": ("Ouvrir", "Open"),
    "oidc_sign_in": ("Se connecter avec le compte de l'établissement",
                     "Sign in with the establishment's account"),
    "oidc_unavailable": ("Le fournisseur d'identité ne répond pas : réessayez dans un instant ou prévenez "
                         "le support.", "The identity provider does not answer: try again shortly or call "
                         "the support."),
    "oidc_refused": ("Connexion refusée : la réponse du fournisseur d'identité n'est pas valable. "
                     "Recommencez.",
                     "Sign-in refused: the identity provider's answer is not valid. Try again."),
    "oidc_cancelled": ("Connexion annulée.", "Sign-in cancelled."),
    "no_role": ("Votre compte n'a aucun rôle Identito : demandez-le à l'administrateur.",
                "Your account has no Identito role: ask the administrator."),
    "f_active": ("Active", "Active"),
    "f_merged_into": ("Fusionnée dans l'identité n°", "Merged into identity no."),
    "f_absorbed": ("Identité absorbée n°", "Absorbed identity no."),
    "f_restored": ("Identité restituée n°", "Identity given back no."),
    "f_merge": ("Fusion n°", "Merge no."),
    "f_no_expiry": ("Sans date d'expiration imprimée", "No expiry date printed"),
}
TEXT.update(MORE_TEXT)
TEXT.update(INSI_TEXT)
TEXT.update(ADMIN_TEXT)
TEXT.update(IND_TEXT)
TEXT.update(PRINT_TEXT)

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "PROV": ("Identité provisoire", "Provisional identity"),
    "RECUP": ("Identité récupérée", "Retrieved identity"),
    "VALI": ("Identité validée", "Validated identity"),
    "QUAL": ("Identité qualifiée", "Qualified identity"),
}

ATTRIBUTE_LABELS: dict[str, tuple[str, str]] = {
    "DOUT": ("Identité douteuse", "Doubtful identity"),
    "FICT": ("Identité fictive", "Fictitious identity"),
    "HOMA": ("Homonyme avéré", "Confirmed namesake"),
}

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "admission": ("Agent d'accueil, admissions", "Admissions desk agent"),
    "identitovigilance": ("Cellule d'identitovigilance", "Identitovigilance cell"),
    "documents": ("Documents (lecture des INS qualifiées)", "Documents (qualified INS only)"),
    "integration": ("Intégration", "Integration"),
    "admin": ("Administration", "Administration"),
}

SEX_LABELS: dict[str, tuple[str, str]] = {
    "M": ("Masculin", "Male"), "F": ("Féminin", "Female"), "U": ("Inconnu", "Unknown"),
}

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "identity.created": ("Création", "Created"),
    "identity.created_despite_duplicates": ("Création malgré des doublons possibles",
                                            "Created despite possible duplicates"),
    "identity.updated": ("Modification des traits", "Traits changed"),
    "identity.ipp_changed": ("Changement d'IPP", "IPP changed"),
    "identity.merged": ("Fusionnée dans une autre identité (close)", "Merged into another identity (closed)"),
    "identity.absorbed": ("Fusion : une identité absorbée", "Merge: an identity absorbed"),
    "identity.unmerged": ("Défusion : identité rouverte", "Unmerge: identity reopened"),
    "identity.unabsorbed": ("Défusion : identité restituée", "Unmerge: identity given back"),
    "identity.linked": ("Rapprochement (lien) avec une autre identité", "Linked to another identity"),
    "identity.unlinked": ("Lien supprimé", "Link removed"),
    "collision.flagged": ("Collision signalée", "Collision flagged"),
    "collision.resolved": ("Collision résolue", "Collision resolved"),
    "document.recorded": ("Justificatif vérifié", "Document checked"),
    "document.withdrawn": ("Justificatif retiré", "Document withdrawn"),
    "attribute.set": ("Attribut posé", "Attribute set"),
    "attribute.removed": ("Attribut retiré", "Attribute removed"),
    "insi.accepted": ("INSi : identité acceptée", "INSi: identity accepted"),
    "insi.rejected": ("INSi : proposition refusée", "INSi: proposal rejected"),
    "insi.verified": ("INSi : INS vérifiée", "INSi: INS verified"),
    "insi.verification_failed": ("INSi : vérification en échec", "INSi: verification failed"),
    "worklist.opened": ("Anomalie ouverte", "Worklist item opened"),
    "worklist.repeated": ("Anomalie répétée", "Worklist item repeated"),
    "worklist.resolved": ("Anomalie résolue", "Worklist item resolved"),
    "worklist.closed": ("Anomalie close", "Worklist item closed"),
    "duplicate.dismissed": ("Doublon écarté", "Duplicate dismissed"),
    "duplicate.reopened": ("Doublon rouvert", "Duplicate reopened"),
}

FIELD_LABELS: dict[str, str] = {
    "birth_name": "birth_name", "first_names": "first_names", "first_name": "first_first_name",
    "used_name": "used_name", "used_first_name": "used_first_name", "birth_date": "birth_date",
    "sex": "sex", "birth_place_code": "birth_place", "status": "status", "attributes": "attributes",
    "ipp": "ipp", "ins": "ins_title", "active": "f_active", "merged_into": "f_merged_into",
    "absorbed": "f_absorbed", "restored": "f_restored", "merge": "f_merge", "type": "doc_type",
    "high_trust": "doc_high_trust", "expires_on": "doc_expires", "no_expiry_printed": "f_no_expiry",
    "item": "f_item", "kind": "f_kind", "event": "f_event", "outcome": "f_outcome",
    "confirm_new": "f_confirm_new", "resolution": "f_resolution",
}


class Words:
    """Lookups in one language, for templates and handlers."""

    def __init__(self, language: str) -> None:
        self.index = 0 if language == "fr" else 1
        self.language = language

    def __call__(self, key: str, **params: object) -> str:
        """The text of a key, with its {parameters} filled in."""
        text = TEXT[key][self.index]
        return text.format(**params) if params else text

    def of(self, table: dict[str, tuple[str, str]], code: str) -> str:
        """The label of a code in a table, the code itself when unknown."""
        pair = table.get(code)
        return pair[self.index] if pair else code

    def status(self, code: str) -> str:
        """Meaning of a status code."""
        return self.of(STATUS_LABELS, code)

    def attribute(self, code: str) -> str:
        """Meaning of an attribute code."""
        return self.of(ATTRIBUTE_LABELS, code)

    def sex(self, code: str) -> str:
        """Meaning of a sex code."""
        return self.of(SEX_LABELS, code)

    def action(self, code: str) -> str:
        """Label of an audit action."""
        return self.of(ACTION_LABELS, code)

    def field(self, name: str) -> str:
        """Label of a snapshot field."""
        key = FIELD_LABELS.get(name)
        return self(key) if key else name
