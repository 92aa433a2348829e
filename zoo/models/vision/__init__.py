"""Images: the autoencoders two recipes share, and uint8 image augmentation."""
