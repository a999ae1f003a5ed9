import idna

HOST = "bücher.example"

print("serving", idna.encode(HOST).decode())
