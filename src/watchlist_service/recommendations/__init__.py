"""More like my list: TMDb's recommendations for the list's newest titles, merged and ranked (design §12)."""
