"""Words of the creation form and of the cell's pages (worklists, duplicate pairs), French and
English. Labels only: the rules and the messages of refusals stay in app/domain and app/services.
"""

from __future__ import annotations

# key -> (French, English); merged into app.web.i18n.TEXT
MORE_TEXT: dict[str, tuple[str, str]] = {
    "nav_search": ("Rechercher", "Search"),
    "nav_create": ("Créer une identité", "Create an identity"),
    "nav_cell": ("Identitovigilance", "Identitovigilance"),
    "nav_label": ("Menu principal", "Main menu"),
    "create_title": ("Créer une identité", "Create an identity"),
    "create_intro": ("Saisissez les traits tels qu'ils figurent sur le justificatif d'identité. "
                     "Chaque champ est vérifié pendant la saisie.",
                     "Type the traits as the identity document prints them. Each field is checked as you "
                     "type."),
    "create_from_search": ("Créer une identité avec ces critères", "Create an identity with these criteria"),
    "required": ("obligatoire", "required"),
    "first_names_hint": ("tous les prénoms de naissance, séparés par un espace",
                         "every birth first name, separated by a space"),
    "first_name_hint": ("laissé vide : le premier des prénoms de naissance",
                        "empty: the first birth first name"),
    "create_birth_date_hint": ("JJ/MM/AAAA (ou AAAA-MM-JJ, MM/AAAA, AAAA si incomplète)",
                               "DD/MM/YYYY (or YYYY-MM-DD, MM/YYYY, YYYY when partial)"),
    "birth_place_hint": ("code INSEE de la commune (99xxx : pays étranger)", "INSEE code (99xxx: abroad)"),
    "sex_choose": ("— choisir —", "— choose —"),
    "create_submit": ("Créer l'identité", "Create the identity"),
    "created": ("Identité créée (statut provisoire).", "Identity created (provisional status)."),
    "form_errors": ("Corrigez les champs signalés.", "Correct the fields shown."),
    "dup_title": ("Doublon probable : vérifiez avant de créer", "Probable duplicate: check before creating"),
    "dup_intro": ("Ces traits ressemblent à {count} identité(s) existante(s). Comparez avec le justificatif "
                  "d'identité du patient : s'il s'agit de la même personne, ouvrez son identité au lieu d'en "
                  "créer une nouvelle.",
                  "These traits look like {count} existing identity(ies). Compare with the patient's "
                  "identity document: if it is the same person, open that identity instead of creating a "
                  "new one."),
    "dup_typed": ("Saisi", "Typed"),
    "dup_candidate": ("Identité n° {n}", "Identity no. {n}"),
    "dup_open": ("Ouvrir l'identité n° {n}", "Open identity no. {n}"),
    "dup_confirm": ("Créer quand même", "Create anyway"),
    "dup_confirm_hint": ("La création malgré le doublon est tracée avec les candidats présentés, et la "
                         "paire est proposée à la cellule d'identitovigilance.",
                         "Creating despite the duplicate is recorded with the candidates shown, and the pair "
                         "goes to the identitovigilance cell."),
    "dup_back": ("Revenir au formulaire", "Back to the form"),
    "grade": ("Niveau", "Grade"),
    "score": ("Probabilité", "Probability"),
    "explanation": ("Explication par trait", "Explanation per trait"),
    "why_pair": ("Pourquoi ces deux identités se ressemblent", "Why these two identities look alike"),
    "trait": ("Trait", "Trait"),
    "agreement": ("Concordance", "Agreement"),
    "case": ("Cas reconnu", "Case"),
    "weight": ("Poids (bits)", "Weight (bits)"),
    "rules": ("Règles appliquées", "Rules applied"),
    "cmp_equal": ("identique", "equal"),
    "cmp_differs": ("différent", "differs"),
    "cmp_missing": ("absent", "missing"),
    "cmp_none": ("sans valeur", "no value"),
    "f_item": ("Anomalie n°", "Item no."),
    "f_kind": ("Type d'anomalie", "Item kind"),
    "f_event": ("Événement", "Event"),
    "f_outcome": ("Résultat", "Outcome"),
    "f_confirm_new": ("Créée malgré les doublons", "Created despite duplicates"),
    "f_resolution": ("Résolution", "Resolution"),
    "access_denied": ("Accès refusé", "Access denied"),
    "cell_title": ("Cellule d'identitovigilance", "Identitovigilance cell"),
    "worklists": ("Listes de travail", "Worklists"),
    "worklist_kind": ("Anomalie", "Item kind"),
    "open_count": ("Ouvertes", "Open"),
    "pairs_title": ("Doublons potentiels", "Potential duplicates"),
    "pairs_link": ("Examiner les paires de doublons ({n} ouvertes affichées)",
                   "Review the duplicate pairs ({n} open shown)"),
    "pairs_none": ("Aucune paire ouverte.", "No open pair."),
    "pairs_count": ("{n} paire(s) ouverte(s), la plus probable d'abord",
                    "{n} open pair(s), most likely first"),
    "items_count": ("{n} ouverte(s), les plus anciennes d'abord", "{n} open, oldest first"),
    "pair_n": ("Paire n° {n}", "Pair no. {n}"),
    "pair_review": ("Examiner", "Review"),
    "found_by": ("Trouvée par", "Found by"),
    "pair_status": ("État de la paire", "Pair state"),
    "side_by_side": ("Traits côte à côte", "Traits side by side"),
    "decision": ("Décision", "Decision"),
    "reason": ("Motif", "Reason"),
    "reason_hint": ("obligatoire, tracé dans l'historique des deux identités",
                    "required, recorded in both identities' history"),
    "dismiss": ("Écarter : deux personnes différentes", "Dismiss: two different persons"),
    "dismissed": ("Paire écartée.", "Pair dismissed."),
    "merge_keep": ("Garder l'identité n° {keep}, fusionner l'identité n° {absorb} dans celle-ci",
                   "Keep identity no. {keep}, merge identity no. {absorb} into it"),
    "merge_hint": ("L'identité absorbée est close ; ses IPP, justificatifs et historique restent "
                   "consultables. La fusion peut être annulée depuis la page de l'identité absorbée.",
                   "The absorbed identity is closed; its IPP, documents and history stay readable. The "
                   "merge can be undone from the absorbed identity's page."),
    "merge_choice": ("Identité conservée", "Identity kept"),
    "merge_submit": ("Fusionner", "Merge"),
    "merged": ("Fusion faite : l'identité n° {absorbed} est close dans l'identité n° {survivor}.",
               "Merged: identity no. {absorbed} is closed into identity no. {survivor}."),
    "pair_decided": ("Paire déjà traitée ({status}) par {by}.", "Pair already decided ({status}) by {by}."),
    "unmerge_title": ("Annuler la fusion", "Undo the merge"),
    "unmerge_hint": ("L'identité est rouverte telle qu'elle était à la fusion ; l'identité n° {n} garde ce "
                     "qui a changé depuis.", "The identity is reopened as it was at the merge; identity "
                     "no. {n} keeps what changed since."),
    "unmerged": ("Fusion annulée : l'identité est rouverte.", "Merge undone: the identity is reopened."),
    "items_title": ("Liste de travail : {kind}", "Worklist: {kind}"),
    "items_none": ("Aucune anomalie ouverte.", "No open item."),
    "item_n": ("Anomalie n° {n}", "Item no. {n}"),
    "item_identity": ("Identité concernée", "Identity"),
    "item_other": ("Autre identité", "Other identity"),
    "item_opened": ("Ouverte le", "Opened on"),
    "item_by": ("Ouverte par", "Opened by"),
    "item_outcome": ("Résultat", "Outcome"),
    "item_hint": ("Action suggérée", "Suggested action"),
    "item_occurrences": ("Occurrences", "Occurrences"),
    "item_details": ("Détails", "Details"),
    "item_resolve": ("Clore l'anomalie", "Close the item"),
    "resolution": ("Résolution", "Resolution"),
    "resolve_submit": ("Clore avec ce motif", "Close with this reason"),
    "resolved": ("Anomalie n° {n} close.", "Item no. {n} closed."),
    "item_closed": ("Anomalie close le {at} par {by} : {resolution}.",
                    "Item closed on {at} by {by}: {resolution}."),
    "back_cell": ("Retour à la cellule", "Back to the cell"),
    "back_worklist": ("Retour à la liste", "Back to the list"),
    "back_pairs": ("Retour aux paires", "Back to the pairs"),
}

GRADE_LABELS: dict[str, tuple[str, str]] = {
    "certain": ("doublon certain", "certain duplicate"),
    "probable": ("doublon probable", "probable duplicate"),
    "possible": ("doublon possible", "possible duplicate"),
    "no_match": ("pas un doublon", "no match"),
}

PAIR_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("ouverte", "open"), "dismissed": ("écartée", "dismissed"),
    "merged": ("fusionnée", "merged"), "linked": ("rapprochée (lien)", "linked"),
}

FOUND_BY_LABELS: dict[str, tuple[str, str]] = {
    "check": ("contrôle après modification", "check after a change"),
    "scan": ("recherche complète", "full scan"),
    "desk": ("création malgré le doublon", "created despite the duplicate"),
}

MATCH_TRAIT_LABELS: dict[str, tuple[str, str]] = {
    "ins": ("INS", "INS"), "birth_name": ("Nom de naissance", "Birth name"),
    "first_names": ("Prénom(s) de naissance", "Birth first names"),
    "birth_date": ("Date de naissance", "Birth date"),
    "sex": ("Sexe", "Sex"), "birth_place_code": ("Lieu de naissance", "Birth place"),
}

LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "exact": ("identique", "equal"), "close": ("très proche", "close"),
    "alias": ("autre nom de la même personne", "other name of the same person"),
    "typo": ("faute de frappe probable", "likely typo"), "phonetic": ("se prononce pareil", "sounds alike"),
    "partial": ("en partie identique", "partly equal"), "different": ("différent", "different"),
    "missing": ("inconnu d'un côté", "unknown on one side"),
}

CASE_LABELS: dict[str, tuple[str, str]] = {
    "equal": ("même valeur", "same value"),
    "separators": ("même valeur aux espaces, tirets ou apostrophes près",
                   "same up to spaces, hyphens, apostrophes"),
    "particle": ("même nom à la particule près", "same name up to a particle"),
    "birth-vs-used-name": ("nom d'usage saisi comme nom de naissance", "used name typed as birth name"),
    "one-character": ("un caractère diffère", "one character differs"),
    "word-order": ("mêmes mots dans un autre ordre", "same words in another order"),
    "order": ("mêmes prénoms dans un autre ordre", "same first names in another order"),
    "sounds-alike": ("même prononciation", "same sound"),
    "compound-part": ("une partie du nom composé", "one part of the compound name"),
    "first-names-prefix": ("seul le premier prénom saisi", "only the first first name typed"),
    "used-first-name": ("prénom d'usage saisi comme prénom", "used first name typed as first name"),
    "some-first-names": ("une partie des prénoms", "some of the first names"),
    "conflicting": ("prénoms en partie communs mais contradictoires", "first names shared but conflicting"),
    "different": ("valeurs différentes", "different values"),
    "missing": ("absent d'un côté", "missing on one side"),
    "day-month-swap": ("jour et mois inversés", "day and month swapped"),
    "one-digit-day": ("un chiffre du jour diffère", "one digit of the day differs"),
    "one-digit-month": ("un chiffre du mois diffère", "one digit of the month differs"),
    "one-digit-year": ("un chiffre de l'année diffère", "one digit of the year differs"),
    "transposed-digits": ("deux chiffres inversés", "two digits swapped"),
    "completed-date-compatible": ("date incomplète compatible", "partial date compatible"),
    "completed-date-incompatible": ("date incomplète incompatible", "partial date incompatible"),
    "same-commune": ("même commune", "same commune"), "same-country": ("même pays", "same country"),
    "same-city": ("même ville (arrondissement)", "same city (district)"),
    "same-departement": ("même département", "same département"),
    "same-active-ins": ("même INS active", "same active INS"),
    "same-ins-in-history": ("même INS (dans l'historique)", "same INS (in the history)"),
    "different-active-ins": ("deux INS actives différentes", "two different active INS"),
}

RULE_LABELS: dict[str, tuple[str, str]] = {
    "same-ins": ("même INS : doublon certain", "same INS: certain"),
    "same-ins-traits-disagree": ("même INS mais traits discordants : au plus possible (collision ?)",
                                 "same INS, traits disagree: at most possible (collision?)"),
    "different-ins": ("INS différentes : au plus possible", "different INS: at most possible"),
    "homonym-attribute": ("homonyme avéré : jamais certain", "confirmed namesake: never certain"),
    "first-names-not-equal": ("prénoms non identiques : jamais certain",
                              "first names not equal: never certain"),
    "sex-different": ("sexe différent : jamais certain", "sex differs: never certain"),
    "first-names-different": ("prénoms différents : au plus possible",
                              "first names differ: at most possible"),
    "sex-and-first-names-different": ("sexe et prénoms différents : au plus possible",
                                      "sex and first names differ: at most possible"),
}
