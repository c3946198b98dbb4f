"""INSi teleservice client: zeep over httpx, headers, credential adapters, fault mapping."""
