"""Words of the printing panel (cover page, label sheet) and of the DataMatrix scanner field, French
and English. Labels only: the printing rule and its refusals stay in app/domain (cover_page.py,
labels.py, scanned.py) and their messages are the API's.
"""

from __future__ import annotations

# key -> (French, English); merged into app.web.i18n.TEXT
PRINT_TEXT: dict[str, tuple[str, str]] = {
    "print_title": ("Impression INS", "INS printing"),
    "print_cover": ("Imprimer la page de garde INS", "Print the INS cover page"),
    "print_cover_hint": ("Page A4 à placer en tête d'un document : traits INS en clair et DataMatrix INS.",
                         "A4 page to put in front of a document: INS traits in clear text and the "
                         "DataMatrix INS."),
    "print_labels": ("Imprimer une planche d'étiquettes", "Print a label sheet"),
    "print_labels_hint": ("Chaque étiquette porte les traits INS, l'IPP et le DataMatrix INS.",
                          "Each label carries the INS traits, the IPP and the DataMatrix INS."),
    "print_unavailable": ("Impression INS impossible", "INS printing not available"),
    "print_labels_no_ins": ("Imprimer des étiquettes sans INS", "Print labels without INS"),
    "print_labels_no_ins_hint": ("Chaque étiquette porte le nom de naissance, le premier prénom, le nom "
                                 "utilisé, la date de naissance, le sexe et l'IPP ; ni INS ni DataMatrix "
                                 "tant que l'identité n'est pas qualifiée.",
                                 "Each label carries the birth name, the first first name, the used name, "
                                 "the birth date, the sex and the IPP; no INS and no DataMatrix while the "
                                 "identity is not qualified."),
    "label_layout": ("Format de la planche", "Sheet format"),
    "label_layout_option": ("{labels} étiquettes {w} × {h} mm ({columns} × {rows})",
                            "{labels} labels {w} × {h} mm ({columns} × {rows})"),
    "label_start": ("Première étiquette libre", "First free label"),
    "label_start_hint": ("1 = en haut à gauche, numérotées ligne par ligne ; les précédentes sont sautées",
                         "1 = top left, numbered row by row; the ones before are skipped"),
    "label_count": ("Nombre d'étiquettes", "Number of labels"),
    "label_count_hint": ("vide : jusqu'à la fin de la planche ; au-delà, planches suivantes",
                         "empty: to the end of the sheet; more continue on the next sheets"),
    "pdf_hint": ("Le PDF est téléchargé ; imprimez-le à 100 % (taille réelle), sans mise à l'échelle.",
                 "The PDF is downloaded; print it at 100 % (actual size), without scaling."),
    "scan_label": ("DataMatrix INS (douchette)", "DataMatrix INS (scanner)"),
    "scan_hint": ("Placez le curseur ici (Alt+S) puis scannez le DataMatrix INS d'un document ou d'une "
                  "étiquette : l'identité s'ouvre si l'INS et les traits concordent.",
                  "Put the cursor here (Alt+S) then scan the DataMatrix INS of a document or a label: the "
                  "identity opens when the INS and the traits agree."),
    "scan_submit": ("Lire le DataMatrix", "Read the DataMatrix"),
    "scan_title": ("Résultat de la lecture du DataMatrix INS", "DataMatrix INS reading"),
    "scan_open": ("DataMatrix INS lu : identité n° {n}, INS et traits concordants.",
                  "DataMatrix INS read: identity no. {n}, INS and traits agree."),
    "scan_invalid": ("Ce contenu n'est pas un DataMatrix INS lisible. {reason} Vérifiez le réglage de la "
                     "douchette (clavier français, séparateur GS) puis scannez à nouveau.",
                     "This content is not a readable DataMatrix INS. {reason} Check the scanner's settings "
                     "(keyboard layout, GS separator) then scan again."),
    "scan_unknown_ins": ("Aucune identité ne porte cet INS (matricule {matricule}) : ni comme INS active, ni "
                     "comme ancienne INS. Recherchez le patient par ses traits.",
                     "No identity holds this INS (matricule {matricule}), active or previous. Search the "
                     "patient by their traits."),
    "scan_closed": ("Cet INS est celui de l'identité n° {n}, close : elle a été fusionnée dans l'identité "
                    "n° {survivor}.",
                    "This INS is held by identity no. {n}, closed: it was merged into identity no. "
                    "{survivor}."),
    "scan_differs": ("Ce n'est pas l'identité enregistrée : l'INS est celui de l'identité n° {n}, mais les "
                     "traits du DataMatrix diffèrent ({traits}). Vérifiez le document et l'identité avant "
                     "de l'utiliser.",
                     "This is not the recorded identity: the INS is that of identity no. {n}, but the "
                     "DataMatrix's traits differ ({traits}). Check the document and the identity before "
                     "using it."),
    "scan_historic_ins": ("Cet INS est une ancienne INS de l'identité n° {n}, remplacée depuis : "
                      "n'utilisez pas ce document tel quel, vérifiez l'identité.",
                      "This INS is a previous INS of identity no. {n}, since replaced: do not use the "
                      "document as is, check the identity."),
    "scan_not_qualified": ("L'INS est celui de l'identité n° {n}, qui n'est pas qualifiée "
                           "(statut {status}) : son INS ne peut pas être utilisé. Ouvrez l'identité pour la "
                           "qualifier.",
                           "The INS is that of identity no. {n}, which is not qualified (status {status}): "
                           "its INS may not be used. Open the identity to qualify it."),
    "scan_open_identity": ("Ouvrir l'identité n° {n}", "Open identity no. {n}"),
    "scan_printed": ("DataMatrix", "DataMatrix"),
    "scan_stored": ("Identité n° {n}", "Identity no. {n}"),
    "scan_compare_caption": ("Traits du DataMatrix et de l'identité enregistrée",
                             "Traits of the DataMatrix and of the recorded identity"),
}
