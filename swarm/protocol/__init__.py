"""What other programs see, and nothing that moves it (sans-IO).

The wire protocol -- records, names, chunk arithmetic, file metadata, one
class per message, the codec -- and the stdout blocks of the contract.
Bytes and values in, values and bytes out: no socket, no disk, no clock.
"""
