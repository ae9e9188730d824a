print("(not yet)")
